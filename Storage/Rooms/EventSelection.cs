using Npgsql;
using NpgsqlTypes;

namespace Homeserver.Storage.Rooms;

/// <summary>
/// A filter's types and senders as SQL, so that a page's limit counts only the events it may show
/// (spec: the filter applies before the limit). Types are LIKE patterns; null means any.
/// </summary>
public sealed record EventSelection(string[]? TypePatterns, string[] NotTypePatterns, string[]? Senders, string[] NotSenders)
{
    /// <summary>The condition on <c>e</c>, with parameters numbered from <paramref name="first"/>.</summary>
    internal string Condition(int first) =>
        $"""
        ((${first}::text[] IS NULL OR e.type LIKE ANY(${first})) AND NOT (e.type LIKE ANY(${first + 1}))
         AND (${first + 2}::text[] IS NULL OR e.sender = ANY(${first + 2})) AND NOT (e.sender = ANY(${first + 3})))
        """;

    internal void AddParameters(NpgsqlParameterCollection parameters)
    {
        foreach (var value in new[] { TypePatterns, NotTypePatterns, Senders, NotSenders })
        {
            parameters.Add(new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        }
    }

    /// <summary>A filter's type glob ('*' any run of characters) as a LIKE pattern.</summary>
    public static string LikePattern(string glob) =>
        glob.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal)
            .Replace("_", @"\_", StringComparison.Ordinal).Replace("*", "%", StringComparison.Ordinal);
}
