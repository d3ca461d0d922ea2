using Npgsql;

namespace Homeserver.Storage;

internal static class NpgsqlCommandExtensions
{
    /// <summary>
    /// Binds positional parameters ($1, $2, ...) in order; null becomes SQL NULL. A lone array argument
    /// must be cast to object, or C# spreads it into the parameter list.
    /// </summary>
    public static NpgsqlCommand With(this NpgsqlCommand command, params object?[] values)
    {
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }
}
