using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>The position every writer of a stream has committed up to, as persisted in stream_positions.</summary>
public sealed class StreamPositionReader(NpgsqlDataSource dataSource)
{
    public async Task<long> GetSafePositionAsync(string streamName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT min(position) FROM stream_positions WHERE stream_name = $1");
        command.Parameters.Add(new() { Value = streamName });
        var result = await command.ExecuteScalarAsync(cancellationToken);
        return result is long position ? position : 0;
    }

    /// <summary>Every stream's safe position, in one query; a stream nobody has written yet is absent (read it as 0).</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetSafePositionsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT stream_name, min(position) FROM stream_positions GROUP BY stream_name");
        var positions = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) positions[reader.GetString(0)] = reader.GetInt64(1);
        return positions;
    }

    /// <summary>The last position the stream's sequence handed out, committed or not.</summary>
    public Task<long> GetSequencePositionAsync(string streamName, CancellationToken cancellationToken = default) =>
        StreamSequences.ReadCurrentAsync(dataSource, streamName, cancellationToken);
}
