using Npgsql;

namespace Homeserver.Storage.Streams;

internal static class StreamSequences
{
    /// <summary>The last value a stream's sequence handed out; before the first nextval, one below its start.</summary>
    public static async Task<long> ReadCurrentAsync(NpgsqlDataSource dataSource, string streamName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {streamName}_stream_seq");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
