using Npgsql;

namespace Homeserver.Storage.Federation;

/// <summary>
/// Another server as the sender knows it: its backoff (all zero/null while it answers) and the highest stream
/// ordering of a PDU it acknowledged, null until the first.
/// </summary>
public sealed record DestinationRecord(string Destination, long RetryLastTs, long RetryInterval, long? FailureTs, long? LastSuccessfulStreamOrdering)
{
    public bool IsBackingOff(long nowMs) => RetryInterval > 0 && nowMs < RetryLastTs + RetryInterval;
    public long RetryAtMs => RetryLastTs + RetryInterval;
}

/// <summary>A persisted event on its way to another server, with its stored signed JSON.</summary>
public sealed record StoredPdu(string RoomId, string EventId, long StreamOrdering, string Json);

/// <summary>The <c>destinations</c> and <c>destination_rooms</c> tables: backoff and catch-up of outbound federation.</summary>
public sealed class DestinationStore(NpgsqlDataSource dataSource)
{
    public async Task<DestinationRecord> GetAsync(string destination, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT retry_last_ts, retry_interval, failure_ts, last_successful_stream_ordering FROM destinations WHERE destination = $1
            """).With(destination);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return new DestinationRecord(destination, 0, 0, null, null);
        return new DestinationRecord(destination, reader.GetInt64(0), reader.GetInt64(1),
            reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetInt64(3));
    }

    public async Task SetRetryTimingsAsync(DestinationRecord record, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO destinations (destination, retry_last_ts, retry_interval, failure_ts) VALUES ($1, $2, $3, $4)
            ON CONFLICT (destination) DO UPDATE SET retry_last_ts = excluded.retry_last_ts, retry_interval = excluded.retry_interval,
                failure_ts = excluded.failure_ts
            """).With(record.Destination, record.RetryLastTs, record.RetryInterval, record.FailureTs);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Never moves backwards: a late acknowledgement of an older transaction cannot undo a newer one.</summary>
    public async Task SetLastSuccessfulStreamOrderingAsync(string destination, long streamOrdering, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO destinations (destination, last_successful_stream_ordering) VALUES ($1, $2)
            ON CONFLICT (destination) DO UPDATE SET last_successful_stream_ordering =
                GREATEST(destinations.last_successful_stream_ordering, excluded.last_successful_stream_ordering)
            """).With(destination, streamOrdering);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Records, per room, the latest event that should reach <paramref name="destination"/>.</summary>
    public async Task RecordRoomsAsync(string destination, IReadOnlyCollection<(string RoomId, long StreamOrdering)> latest,
        CancellationToken cancellationToken)
    {
        if (latest.Count == 0) return;
        await using var batch = dataSource.CreateBatch();
        var known = new NpgsqlBatchCommand("INSERT INTO destinations (destination) VALUES ($1) ON CONFLICT DO NOTHING");
        known.Parameters.Add(new() { Value = destination });
        batch.BatchCommands.Add(known);
        var rooms = new NpgsqlBatchCommand("""
            INSERT INTO destination_rooms (destination, room_id, stream_ordering)
            SELECT $1, r, s FROM unnest($2::text[], $3::bigint[]) AS t(r, s)
            ON CONFLICT (destination, room_id) DO UPDATE SET stream_ordering = GREATEST(destination_rooms.stream_ordering, excluded.stream_ordering)
            """);
        rooms.Parameters.Add(new() { Value = destination });
        rooms.Parameters.Add(new() { Value = latest.Select(l => l.RoomId).ToArray() });
        rooms.Parameters.Add(new() { Value = latest.Select(l => l.StreamOrdering).ToArray() });
        batch.BatchCommands.Add(rooms);
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The latest event of each room the destination has not acknowledged since <paramref name="after"/>, oldest first.</summary>
    public async Task<IReadOnlyList<StoredPdu>> GetCatchUpAsync(string destination, long after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT e.room_id, e.event_id, e.stream_ordering, e.json FROM destination_rooms d
            JOIN events e ON e.stream_ordering = d.stream_ordering
            WHERE d.destination = $1 AND d.stream_ordering > $2 ORDER BY d.stream_ordering LIMIT $3
            """).With(destination, after, limit);
        return await ReadPdusAsync(command, cancellationToken);
    }

    /// <summary>The stored signed JSON of the given events, in stream order; events not found are left out.</summary>
    public async Task<IReadOnlyList<StoredPdu>> GetPdusAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT room_id, event_id, stream_ordering, json FROM events WHERE event_id = ANY($1) ORDER BY stream_ordering
            """).With((object)eventIds.ToArray());
        return await ReadPdusAsync(command, cancellationToken);
    }

    /// <summary>Destinations with rooms they have not been sent up to or EDUs in an outbox: the ones to wake after a restart.</summary>
    public async Task<IReadOnlyList<string>> GetOutstandingAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT d.destination FROM destination_rooms r JOIN destinations d ON d.destination = r.destination
            WHERE r.stream_ordering > coalesce(d.last_successful_stream_ordering, 0)
            UNION SELECT DISTINCT destination FROM device_federation_outbox
            UNION SELECT DISTINCT destination FROM device_list_federation_outbox
            ORDER BY 1
            """);
        return await ReadNamesAsync(command, cancellationToken);
    }

    /// <summary>Destinations with EDUs waiting in an outbox.</summary>
    public async Task<IReadOnlyList<string>> GetWithOutboxAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT destination FROM device_federation_outbox UNION SELECT destination FROM device_list_federation_outbox ORDER BY 1
            """);
        return await ReadNamesAsync(command, cancellationToken);
    }

    private static async Task<IReadOnlyList<string>> ReadNamesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var destinations = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) destinations.Add(reader.GetString(0));
        return destinations;
    }

    private static async Task<IReadOnlyList<StoredPdu>> ReadPdusAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var pdus = new List<StoredPdu>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) pdus.Add(new StoredPdu(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3)));
        return pdus;
    }
}
