using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>Row counts of tables, to show that a refused request wrote nothing.</summary>
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
}
