using Npgsql;

namespace Homeserver.Storage.Streams;

internal static class StreamSequences
{
    /// <summary>The last value a stream's sequence handed out; before the first nextval, one below its start.</summary>
    public static async Task<long> ReadCurrentAsync(NpgsqlDataSource dataSource, string streamName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {CurrentValue} FROM {streamName}_stream_seq");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>One statement reading the current value of each stream's sequence, as (name, value) rows.</summary>
    private static string ReadCurrentSql(IEnumerable<string> streamNames) =>
        string.Join(" UNION ALL ", streamNames.Select(s => $"SELECT '{s}', {CurrentValue} FROM {s}_stream_seq"));

    public static async Task<IReadOnlyDictionary<string, long>> ReadCurrentAsync(NpgsqlConnection connection, IEnumerable<string> streamNames,
        CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(ReadCurrentSql(streamNames), connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) values[reader.GetString(0)] = reader.GetInt64(1);
        return values;
    }

    private const string CurrentValue = "CASE WHEN is_called THEN last_value ELSE last_value - 1 END";
}
