using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>
/// The position every writer of a stream has committed up to, from stream_positions: the minimum
/// over busy writers, bounded by the sequence's value read first. Idle writers have nothing in
/// flight, so they hold nothing back (see <see cref="MultiWriterIdGenerator"/>). The writers the
/// configuration names count, and so does any silo alive in the Orleans membership: one added after
/// this process started (<c>scripts/cluster add-silo</c>) writes before this process's configuration
/// knows it, and skipping its row would let readers pass its uncommitted positions and never see them.
/// A row left by an instance that is neither (the "main" of a monolith that became a cluster, say)
/// would otherwise hold readers back for ever.
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
        // Orleans' SiloStatus: 1 created .. 5 stopping are alive (may write); 6 is dead, and a survivor marks its rows idle.
        await using (var rows = new NpgsqlCommand("""
            SELECT stream_name, instance_name, position, idle,
                   EXISTS (SELECT 1 FROM orleans_membership m WHERE m.silo_name = p.instance_name AND m.status BETWEEN 1 AND 5)
            FROM stream_positions p WHERE stream_name = ANY($1)
            """, connection))
        {
            rows.Parameters.Add(new() { Value = streams.ToArray() });
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var stream = reader.GetString(0);
                if (configuredWriters?.GetValueOrDefault(stream) is { } writers && !writers.Contains(reader.GetString(1)) && !reader.GetBoolean(4)) continue;
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
