using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>
/// The position every writer of a stream has committed up to, from stream_positions: the minimum
/// over busy writers, bounded by the sequence's value read first. Idle writers have nothing in
/// flight, so they hold nothing back (see <see cref="MultiWriterIdGenerator"/>). Only the writers
/// the configuration names count: a row left by an instance that no longer writes the stream (the
/// "main" of a monolith that became a cluster, say) would otherwise hold readers back for ever.
/// </summary>
public sealed class StreamPositionReader(NpgsqlDataSource dataSource, IReadOnlyDictionary<string, IReadOnlyList<string>>? configuredWriters = null)
{
    public async Task<long> GetSafePositionAsync(string streamName, CancellationToken cancellationToken = default) =>
        (await GetSafePositionsAsync([streamName], cancellationToken)).GetValueOrDefault(streamName);

    /// <summary>Every durable stream's safe position; a stream nobody has written yet reads 0.</summary>
    public Task<IReadOnlyDictionary<string, long>> GetSafePositionsAsync(CancellationToken cancellationToken = default) =>
        GetSafePositionsAsync(LocalStreamWriters.DurableStreams.ToList(), cancellationToken);

    private async Task<IReadOnlyDictionary<string, long>> GetSafePositionsAsync(IReadOnlyList<string> streams, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // The sequences first, in their own statement: a writer that clears its idle mark after this
        // read allocates above what it returned.
        var sequences = await StreamSequences.ReadCurrentAsync(connection, streams, cancellationToken);
        var positions = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var rows = new NpgsqlCommand(
            "SELECT stream_name, instance_name, position, idle FROM stream_positions WHERE stream_name = ANY($1)", connection))
        {
            rows.Parameters.Add(new() { Value = streams.ToArray() });
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var stream = reader.GetString(0);
                if (configuredWriters?.GetValueOrDefault(stream) is { } writers && !writers.Contains(reader.GetString(1))) continue;
                var sequence = sequences.GetValueOrDefault(stream);
                var bound = reader.GetBoolean(3) ? sequence : Math.Min(sequence, reader.GetInt64(2));
                positions[stream] = Math.Min(positions.GetValueOrDefault(stream, long.MaxValue), bound);
            }
        }
        return positions;
    }

    /// <summary>The last position the stream's sequence handed out, committed or not.</summary>
    public Task<long> GetSequencePositionAsync(string streamName, CancellationToken cancellationToken = default) =>
        StreamSequences.ReadCurrentAsync(dataSource, streamName, cancellationToken);

    /// <summary>The last position each durable stream's sequence handed out, committed or not.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetSequencePositionsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await StreamSequences.ReadCurrentAsync(connection, LocalStreamWriters.DurableStreams, cancellationToken);
    }
}
