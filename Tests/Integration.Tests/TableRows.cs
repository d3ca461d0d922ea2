using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>Row counts and contents of tables, to show that a refused request wrote nothing.</summary>
internal static class TableRows
{
    public static async Task<long[]> CountAsync(string connectionString, IReadOnlyList<string> tables)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var counts = new long[tables.Count];
        for (var i = 0; i < tables.Count; i++)
        {
            await using var command = new NpgsqlCommand($"SELECT count(*) FROM {tables[i]}", connection);
            counts[i] = (long)(await command.ExecuteScalarAsync())!;
        }
        return counts;
    }

    /// <summary>
    /// Each table's row count and a digest of all its rows' contents, so that a rejected write that only
    /// updated a row (a display name, a push rule, a device's name) is caught as surely as an inserted one.
    /// </summary>
    public static async Task<string[]> FingerprintAsync(string connectionString, IReadOnlyList<string> tables)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var fingerprints = new string[tables.Count];
        for (var i = 0; i < tables.Count; i++)
        {
            await using var command = new NpgsqlCommand(
                $"SELECT count(*) || ' rows, ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), 'empty') FROM {tables[i]} t", connection);
            fingerprints[i] = $"{tables[i]}: {(string)(await command.ExecuteScalarAsync())!}";
        }
        return fingerprints;
    }
}
