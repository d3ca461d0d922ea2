using Homeserver.Storage.Streams;
using Npgsql;
using NpgsqlTypes;

namespace Homeserver.Storage.Rooms;

/// <summary>
/// The write path of a room, used only by its room grain. Appends are one transaction each:
/// the writer-epoch check (under a row lock that a newer activation's claim must wait for), the
/// events with their stream positions, current state, and the client's transaction ID.
/// </summary>
public sealed class RoomEventStore(NpgsqlDataSource dataSource, StorageLog log)
{
    /// <summary>Takes over writing the room: returns the new epoch, or null when the room does not exist.</summary>
    public async Task<long?> ClaimWriterAsync(string roomId, string instanceName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE room_writers SET epoch = epoch + 1, instance_name = $2, claimed_at = now()
            WHERE room_id = $1 RETURNING epoch
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = instanceName });
        return (long?)await command.ExecuteScalarAsync(cancellationToken);
    }

    public async Task<RoomSnapshot?> LoadAsync(string roomId, long epoch, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        string version;
        await using (var room = new NpgsqlCommand("SELECT room_version FROM rooms WHERE room_id = $1", connection))
        {
            room.Parameters.Add(new() { Value = roomId });
            if (await room.ExecuteScalarAsync(cancellationToken) is not string v) return null;
            version = v;
        }

        long lastSeq = 0, maxDepth = 0;
        var extremities = new List<string>();
        await using (var last = new NpgsqlCommand("""
            SELECT room_seq, depth, event_id FROM events WHERE room_id = $1 ORDER BY room_seq DESC LIMIT 1
            """, connection))
        {
            last.Parameters.Add(new() { Value = roomId });
            await using var reader = await last.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                lastSeq = reader.GetInt64(0);
                maxDepth = reader.GetInt64(1);
                extremities.Add(reader.GetString(2));
            }
        }

        var state = new Dictionary<(string, string), StoredEvent>();
        await using (var current = new NpgsqlCommand("""
            SELECT c.type, c.state_key, e.event_id, e.stream_ordering, e.json
            FROM current_state_events c JOIN events e ON e.event_id = c.event_id
            WHERE c.room_id = $1
            """, connection))
        {
            current.Parameters.Add(new() { Value = roomId });
            await using var reader = await current.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                state[(reader.GetString(0), reader.GetString(1))] =
                    new StoredEvent(reader.GetString(2), reader.GetInt64(3), reader.GetString(4));
            }
        }
        return new RoomSnapshot(roomId, version, epoch, lastSeq, maxDepth, extremities, state);
    }

    public async Task<IReadOnlyList<PersistedEvent>> AppendAsync(string roomId, long epoch, IReadOnlyList<NewEvent> events,
        TransactionKey? transaction, MultiWriterIdGenerator positions, string instanceName, NewRoom? newRoom = null,
        CancellationToken cancellationToken = default)
    {
        var leases = new List<PositionLease>(events.Count);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            if (newRoom is not null) await InsertRoomAsync(connection, tx, roomId, epoch, newRoom, instanceName, cancellationToken);

            // FOR SHARE makes a newer activation's epoch bump wait until this append commits, and makes
            // this append see the bump if it committed first. Either way exactly one of them wins.
            await using (var fence = new NpgsqlCommand(
                "SELECT epoch FROM room_writers WHERE room_id = $1 FOR SHARE", connection, tx))
            {
                fence.Parameters.Add(new() { Value = roomId });
                var current = await fence.ExecuteScalarAsync(cancellationToken) as long?;
                if (current != epoch)
                {
                    log.WriterFenced(roomId, epoch);
                    throw new WriterFencedException(roomId, epoch);
                }
            }

            foreach (var _ in events) leases.Add(await positions.AllocateAsync(connection, tx, cancellationToken));

            await using var batch = new NpgsqlBatch(connection, tx);
            for (var i = 0; i < events.Count; i++)
            {
                var e = events[i];
                batch.BatchCommands.Add(Command("""
                    INSERT INTO events (stream_ordering, event_id, room_id, room_seq, depth, type, state_key, sender,
                                        origin_server_ts, instance_name, json)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    """, leases[i].Position, e.EventId, roomId, e.RoomSeq, e.Depth, e.Type, e.StateKey, e.Sender,
                    e.OriginServerTs, instanceName, e.Json));
                if (e.Redacts is not null)
                {
                    batch.BatchCommands.Add(Command(
                        "INSERT INTO redactions (redacts, redaction_event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", e.Redacts, e.EventId));
                }
                if (e.Relation is { } relation)
                {
                    batch.BatchCommands.Add(Command("""
                        INSERT INTO event_relations (event_id, relates_to_id, relation_type, room_id, event_type, room_seq)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        """, e.EventId, relation.EventId, relation.RelationType, roomId, e.Type, e.RoomSeq));
                }
                foreach (var action in e.PushActions ?? [])
                {
                    batch.BatchCommands.Add(Command("""
                        INSERT INTO event_push_actions (room_id, user_id, stream_ordering, event_id, thread_id, notify, highlight, actions)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                        """, roomId, action.UserId, leases[i].Position, e.EventId, action.ThreadId ?? "", action.Notify, action.Highlight,
                        action.ActionsJson));
                }
                if (e.StateKey is not null)
                {
                    batch.BatchCommands.Add(Command("""
                        INSERT INTO current_state_events (room_id, type, state_key, event_id, membership)
                        VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (room_id, type, state_key)
                        DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership
                        """, roomId, e.Type, e.StateKey, e.EventId, e.Membership));
                }
            }
            if (transaction is not null)
            {
                // The client's event leads its batch; what follows it (guests leaving a room closed to them) is the server's.
                batch.BatchCommands.Add(Command("""
                    INSERT INTO event_txn_ids (user_id, device_id, txn_id, room_id, event_id, created_ts)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    """, transaction.UserId, transaction.DeviceId, transaction.TxnId, roomId, events[0].EventId,
                    events[0].OriginServerTs));
            }
            await batch.ExecuteNonQueryAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return events.Select((e, i) => new PersistedEvent(e, leases[i].Position)).ToList();
        }
        finally
        {
            foreach (var lease in leases) lease.Dispose();
        }
    }

    private static async Task InsertRoomAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string roomId, long epoch, NewRoom room,
        string instanceName, CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT (room_id) DO NOTHING
            """, connection, tx);
        insert.Parameters.Add(new() { Value = roomId });
        insert.Parameters.Add(new() { Value = room.RoomVersion });
        insert.Parameters.Add(new() { Value = room.Creator });
        insert.Parameters.Add(new() { Value = room.CreatedTs });
        if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0) throw new RoomExistsException(roomId);
        await using var writer = new NpgsqlCommand(
            "INSERT INTO room_writers (room_id, epoch, instance_name) VALUES ($1, $2, $3)", connection, tx);
        writer.Parameters.Add(new() { Value = roomId });
        writer.Parameters.Add(new() { Value = epoch });
        writer.Parameters.Add(new() { Value = instanceName });
        await writer.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The sender of an event in this room, or null when the room has no such event.</summary>
    public async Task<string?> FindSenderAsync(string roomId, string eventId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT sender FROM events WHERE event_id = $1 AND room_id = $2");
        command.Parameters.Add(new() { Value = eventId });
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<string?> FindTransactionAsync(string roomId, TransactionKey key, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT event_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2 AND txn_id = $3 AND room_id = $4");
        command.Parameters.Add(new() { Value = key.UserId });
        command.Parameters.Add(new() { Value = key.DeviceId });
        command.Parameters.Add(new() { Value = key.TxnId });
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value is null
                ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text }
                : new NpgsqlParameter { Value = value });
        }
        return command;
    }
}
