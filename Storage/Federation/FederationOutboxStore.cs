using Npgsql;

namespace Homeserver.Storage.Federation;

/// <summary>An <c>m.device_list_update</c> waiting for its destination; <see cref="ContentJson"/> lacks stream_id and prev_id.</summary>
public sealed record PendingDeviceListUpdate(long StreamId, string UserId, long? PrevId, string ContentJson);

/// <summary>An <c>m.direct_to_device</c> EDU content waiting for its destination.</summary>
public sealed record PendingToDevice(long StreamId, string ContentJson);

/// <summary>What one transaction may carry of a destination's outbox, oldest first.</summary>
public sealed record PendingFederationEdus(IReadOnlyList<PendingDeviceListUpdate> DeviceLists, IReadOnlyList<PendingToDevice> ToDevice)
{
    public static readonly PendingFederationEdus None = new([], []);

    public int Count => DeviceLists.Count + ToDevice.Count;
}

/// <summary>
/// The durable EDUs of outbound federation: <c>device_federation_outbox</c> (to-device messages, written by
/// <see cref="EndToEnd.ToDeviceStore"/>) and <c>device_list_federation_outbox</c> with the per-destination
/// prev_id chain. The destination's sender grain reads them in stream order and deletes them once answered.
/// </summary>
public sealed class FederationOutboxStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Queues updates of one user's devices, made at device_lists position <paramref name="position"/>, for each
    /// destination: the first update takes the position as stream_id, any further one the next value of the
    /// stream's sequence (so every update has its own, above the last), and per destination the previous
    /// update's as prev_id; returns the stream_ids. Callers serialize per user (the user's keys grain); the
    /// chain rows are locked as well, so a second writer would wait, not fork the chain.
    /// </summary>
    public async Task<IReadOnlyList<long>> QueueDeviceListUpdatesAsync(string userId, IReadOnlyCollection<string> destinations,
        IReadOnlyList<string> contentJson, long position, long now, CancellationToken cancellationToken)
    {
        if (destinations.Count == 0 || contentJson.Count == 0) return [];
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var ids = new List<long>(contentJson.Count) { position };
        if (contentJson.Count > 1)
        {
            // Values no row of the stream takes: readers of device_lists skip them as they skip rolled-back ones.
            await using var next = new NpgsqlCommand("SELECT nextval('device_lists_stream_seq') FROM generate_series(2, $1)", connection, tx)
                .With(contentJson.Count);
            await using var reader = await next.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetInt64(0));
        }
        ids.Sort();
        var previous = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var chain = new NpgsqlCommand("""
            SELECT destination, stream_id FROM device_list_federation_chain WHERE user_id = $1 AND destination = ANY($2) FOR UPDATE
            """, connection, tx).With(userId, destinations.ToArray()))
        await using (var reader = await chain.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) previous[reader.GetString(0)] = reader.GetInt64(1);
        }
        var rowDestinations = new List<string>();
        var rowIds = new List<long>();
        var rowPrev = new List<long?>();
        var rowContent = new List<string>();
        foreach (var destination in destinations)
        {
            long? prev = previous.TryGetValue(destination, out var p) ? p : null;
            for (var i = 0; i < ids.Count; i++)
            {
                rowDestinations.Add(destination);
                rowIds.Add(ids[i]);
                rowPrev.Add(prev);
                rowContent.Add(contentJson[i]);
                prev = ids[i];
            }
        }
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO device_list_federation_outbox (destination, stream_id, user_id, prev_id, queued_ts, content_json)
            SELECT d, s, $5, p, $6, c FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS t(d, s, p, c)
            """, connection, tx).With(rowDestinations.ToArray(), rowIds.ToArray(), rowPrev.ToArray(), rowContent.ToArray(), userId, now))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var advance = new NpgsqlCommand("""
            INSERT INTO device_list_federation_chain (destination, user_id, stream_id) SELECT d, $2, $3 FROM unnest($1::text[]) AS t(d)
            ON CONFLICT (destination, user_id) DO UPDATE SET stream_id = excluded.stream_id
            """, connection, tx).With(destinations.ToArray(), userId, ids[^1]))
        {
            await advance.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        return ids;
    }

    /// <summary>
    /// Up to <paramref name="maxDeviceLists"/> device-list updates, then to-device EDUs up to <paramref name="maxTotal"/>
    /// in all, each kind oldest first.
    /// </summary>
    public async Task<PendingFederationEdus> GetPendingAsync(string destination, int maxDeviceLists, int maxTotal, CancellationToken cancellationToken)
    {
        var deviceLists = new List<PendingDeviceListUpdate>();
        await using (var command = dataSource.CreateCommand("""
            SELECT stream_id, user_id, prev_id, content_json FROM device_list_federation_outbox WHERE destination = $1 ORDER BY stream_id LIMIT $2
            """).With(destination, maxDeviceLists))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                deviceLists.Add(new PendingDeviceListUpdate(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2),
                    reader.GetString(3)));
            }
        }
        var toDevice = new List<PendingToDevice>();
        if (maxTotal > deviceLists.Count)
        {
            await using var command = dataSource.CreateCommand("""
                SELECT stream_id, messages_json FROM device_federation_outbox WHERE destination = $1 ORDER BY stream_id LIMIT $2
                """).With(destination, maxTotal - deviceLists.Count);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) toDevice.Add(new PendingToDevice(reader.GetInt64(0), reader.GetString(1)));
        }
        return new PendingFederationEdus(deviceLists, toDevice);
    }

    /// <summary>Deletes the rows a transaction carried, by key: rows queued since are kept whatever their stream_id.</summary>
    public async Task DeleteAsync(string destination, PendingFederationEdus sent, CancellationToken cancellationToken)
    {
        if (sent.Count == 0) return;
        await using var batch = dataSource.CreateBatch();
        var deviceLists = new NpgsqlBatchCommand("DELETE FROM device_list_federation_outbox WHERE destination = $1 AND stream_id = ANY($2)");
        deviceLists.Parameters.Add(new() { Value = destination });
        deviceLists.Parameters.Add(new() { Value = sent.DeviceLists.Select(d => d.StreamId).ToArray() });
        batch.BatchCommands.Add(deviceLists);
        var toDevice = new NpgsqlBatchCommand("DELETE FROM device_federation_outbox WHERE destination = $1 AND stream_id = ANY($2)");
        toDevice.Parameters.Add(new() { Value = destination });
        toDevice.Parameters.Add(new() { Value = sent.ToDevice.Select(d => d.StreamId).ToArray() });
        batch.BatchCommands.Add(toDevice);
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

}
