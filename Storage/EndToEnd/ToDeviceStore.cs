using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.EndToEnd;

/// <summary>One message for one device: the recipient and the message JSON (sender, type, content).</summary>
public sealed record ToDeviceDelivery(string UserId, string DeviceId, string MessageJson);

/// <summary>An <c>m.direct_to_device</c> EDU content for another server's users.</summary>
public sealed record RemoteToDeviceEdu(string Destination, string ContentJson);

/// <summary>The to_device stream: messages wait per device until it acknowledges them.</summary>
public sealed class ToDeviceStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Stores a batch at one to_device position, all or nothing, unless the sender's device already
    /// sent this transaction ID (then nothing is stored and the result is null). What goes to other servers
    /// is put in <c>device_federation_outbox</c> in the same transaction, so a retried request can neither
    /// send it twice nor find it deduplicated but never queued.
    /// </summary>
    public async Task<long?> EnqueueAsync(string senderUserId, string senderDeviceId, string transactionId, long now,
        IReadOnlyList<ToDeviceDelivery> deliveries, IReadOnlyList<RemoteToDeviceEdu> remote, MultiWriterIdGenerator toDevice,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var seen = new NpgsqlCommand("""
            INSERT INTO to_device_transactions (user_id, device_id, txn_id, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
            """, connection, tx).With(senderUserId, senderDeviceId, transactionId, now))
        {
            if (await seen.ExecuteNonQueryAsync(cancellationToken) == 0) return null;
        }
        using var lease = await toDevice.AllocateAsync(connection, tx, cancellationToken);
        foreach (var d in deliveries)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO to_device_messages (user_id, device_id, stream_id, message_json) VALUES ($1, $2, $3, $4)
                """, connection, tx).With(d.UserId, d.DeviceId, lease.Position, d.MessageJson);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        foreach (var r in remote)
        {
            await using var outbox = new NpgsqlCommand("""
                INSERT INTO device_federation_outbox (destination, stream_id, queued_ts, messages_json) VALUES ($1, $2, $3, $4)
                """, connection, tx).With(r.Destination, lease.Position, now, r.ContentJson);
            await outbox.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        return lease.Position;
    }

    /// <summary>The device's messages in (after, upTo], oldest first, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<(long Position, string Json)>> GetAsync(string userId, string deviceId, long after, long upTo, int limit,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT stream_id, message_json FROM to_device_messages
            WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4 ORDER BY stream_id LIMIT $5
            """).With(userId, deviceId, after, upTo, limit);
        var rows = new List<(long, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add((reader.GetInt64(0), reader.GetString(1)));
        return rows;
    }

    /// <summary>Deletes what the device has acknowledged: everything at or below the position its new request started from.</summary>
    public async Task AcknowledgeAsync(string userId, string deviceId, long upTo, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3").With(userId, deviceId, upTo);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
