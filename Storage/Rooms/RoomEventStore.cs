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
        string[]? tips;
        long currentGroup;
        await using (var room = new NpgsqlCommand(
            "SELECT room_version, forward_extremities, current_state_group FROM rooms WHERE room_id = $1", connection))
        {
            room.Parameters.Add(new() { Value = roomId });
            await using var reader = await room.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken)) return null;
            version = reader.GetString(0);
            tips = reader.IsDBNull(1) ? null : (string[])reader.GetValue(1);
            currentGroup = reader.IsDBNull(2) ? 0 : reader.GetInt64(2);
        }
        var chainLength = 0;
        if (currentGroup != 0)
        {
            await using var chain = new NpgsqlCommand("SELECT chain_length FROM state_groups WHERE id = $1", connection);
            chain.Parameters.Add(new() { Value = currentGroup });
            chainLength = (int)(await chain.ExecuteScalarAsync(cancellationToken))!;
        }

        long lastSeq = 0, maxDepth = 0;
        var extremities = new List<string>();
        await using (var last = new NpgsqlCommand("""
            SELECT room_seq, event_id, (SELECT max(depth) FROM events WHERE room_id = $1) FROM events WHERE room_id = $1 ORDER BY room_seq DESC LIMIT 1
            """, connection))
        {
            last.Parameters.Add(new() { Value = roomId });
            await using var reader = await last.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                lastSeq = reader.GetInt64(0);
                // Rooms from before the DAG was kept are linear: their last event is their one tip.
                extremities.Add(reader.GetString(1));
                maxDepth = reader.GetInt64(2);
            }
        }
        if (tips is not null) extremities = [.. tips];

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
        return new RoomSnapshot(roomId, version, epoch, lastSeq, maxDepth, extremities, state, currentGroup, chainLength);
    }

    public async Task<IReadOnlyList<PersistedEvent>> AppendAsync(string roomId, long epoch, IReadOnlyList<NewEvent> events,
        TransactionKey? transaction, MultiWriterIdGenerator positions, string instanceName, DagChange dag, NewRoom? newRoom = null,
        InviteRoomState? inviteState = null, CancellationToken cancellationToken = default)
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
                                        origin_server_ts, instance_name, json, outlier)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                    """, leases[i].Position, e.EventId, roomId, e.RoomSeq, e.Depth, e.Type, e.StateKey, e.Sender,
                    e.OriginServerTs, instanceName, e.Json, e.Outlier));
                AddRedactionAndRelation(batch, roomId, e);
                foreach (var action in e.PushActions ?? [])
                {
                    batch.BatchCommands.Add(Command("""
                        INSERT INTO event_push_actions (room_id, user_id, stream_ordering, event_id, thread_id, notify, highlight, actions)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                        """, roomId, action.UserId, leases[i].Position, e.EventId, action.ThreadId ?? "", action.Notify, action.Highlight,
                        action.ActionsJson));
                }
                if (e.StateKey is not null && dag.CurrentState is null)
                {
                    batch.BatchCommands.Add(Command("""
                        INSERT INTO current_state_events (room_id, type, state_key, event_id, membership)
                        VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (room_id, type, state_key)
                        DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership
                        """, roomId, e.Type, e.StateKey, e.EventId, e.Membership));
                }
            }
            AddDag(batch, roomId, dag);
            if (inviteState is not null)
            {
                batch.BatchCommands.Add(Command("""
                    INSERT INTO invite_room_state (room_id, user_id, event_id, events) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = EXCLUDED.event_id, events = EXCLUDED.events
                    """, roomId, inviteState.UserId, inviteState.EventId, inviteState.EventsJson));
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

    private static void AddDag(NpgsqlBatch batch, string roomId, DagChange dag)
    {
        foreach (var group in dag.Groups)
        {
            batch.BatchCommands.Add(Command("INSERT INTO state_groups (id, room_id, prev_group, chain_length) VALUES ($1, $2, $3, $4)",
                group.Id, roomId, Bigint(group.PrevGroup), group.ChainLength));
            if (group.Entries.Count == 0) continue;
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO state_group_entries (state_group, type, state_key, event_id)
                SELECT $1, t, k, e FROM unnest($2::text[], $3::text[], $4::text[]) AS x (t, k, e)
                """);
            insert.Parameters.Add(new() { Value = group.Id });
            insert.Parameters.Add(new() { Value = group.Entries.Keys.Select(k => k.Type).ToArray() });
            insert.Parameters.Add(new() { Value = group.Entries.Keys.Select(k => k.StateKey).ToArray() });
            insert.Parameters.Add(new() { Value = group.Entries.Values.ToArray() });
            batch.BatchCommands.Add(insert);
        }
        foreach (var row in dag.Events)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO room_dag_events (event_id, room_id, status, state_before, state_after, rejected_reason, json)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, row.EventId, roomId, row.Status, Bigint(row.StateBefore), Bigint(row.StateAfter), row.RejectedReason, row.Json));
        }
        foreach (var change in dag.CurrentState ?? [])
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO current_state_events (room_id, type, state_key, event_id, membership)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (room_id, type, state_key)
                DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership
                """, roomId, change.Type, change.StateKey, change.EventId, change.Membership));
        }
        if (dag.BackwardExtremities is { Count: > 0 } backward) batch.BatchCommands.Add(AddBackwardExtremities(roomId, backward));
        var tips = new NpgsqlBatchCommand("UPDATE rooms SET forward_extremities = $2, current_state_group = $3 WHERE room_id = $1");
        tips.Parameters.Add(new() { Value = roomId });
        tips.Parameters.Add(new() { Value = dag.ForwardExtremities.ToArray() });
        // 0: a room known only through an invite has no state of its own yet.
        tips.Parameters.Add(new() { Value = dag.CurrentStateGroup == 0 ? DBNull.Value : dag.CurrentStateGroup, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        batch.BatchCommands.Add(tips);
    }

    /// <summary>What an event redacts (when the redaction takes effect) and what it relates to, indexed with it.</summary>
    private static void AddRedactionAndRelation(NpgsqlBatch batch, string roomId, NewEvent e)
    {
        if (e.Redacts is not null) batch.BatchCommands.Add(Redaction(e.Redacts, e.EventId));
        if (e.Relation is { } relation)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO event_relations (event_id, relates_to_id, relation_type, room_id, event_type, room_seq)
                VALUES ($1, $2, $3, $4, $5, $6)
                """, e.EventId, relation.EventId, relation.RelationType, roomId, e.Type, e.RoomSeq));
        }
    }

    private static NpgsqlBatchCommand Redaction(string redacts, string redactionId) =>
        Command("INSERT INTO redactions (redacts, redaction_event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", redacts, redactionId);

    private static NpgsqlBatchCommand AddBackwardExtremities(string roomId, IReadOnlyList<string> eventIds)
    {
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO room_backward_extremities (room_id, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = roomId });
        insert.Parameters.Add(new() { Value = eventIds.ToArray() });
        return insert;
    }

    /// <summary>
    /// Places fetched history before the room's first event, in one fenced transaction. Each event gets a negative
    /// stream position (the newest nearest zero), so it is never news to readers that go forwards from a position. An
    /// event the room already held out of the timeline (the state of a remote join, an auth chain outlier) moves
    /// into its place in the history instead of being written twice.
    /// </summary>
    public async Task BackfillAsync(string roomId, long epoch, BackfillChange change, string instanceName, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var fence = new NpgsqlCommand("SELECT epoch FROM room_writers WHERE room_id = $1 FOR SHARE", connection, tx))
        {
            fence.Parameters.Add(new() { Value = roomId });
            if (await fence.ExecuteScalarAsync(cancellationToken) as long? != epoch)
            {
                log.WriterFenced(roomId, epoch);
                throw new WriterFencedException(roomId, epoch);
            }
        }
        var positions = new List<long>(change.Events.Count);
        if (change.Events.Count > 0)
        {
            await using var allocate = new NpgsqlCommand("SELECT -nextval('backfill_stream_ids') FROM generate_series(1, $1)", connection, tx);
            allocate.Parameters.Add(new() { Value = change.Events.Count });
            await using var reader = await allocate.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) positions.Add(reader.GetInt64(0));
        }
        // Oldest first, as the events: the oldest takes the most negative position.
        positions.Sort();
        await using var batch = new NpgsqlBatch(connection, tx);
        for (var i = 0; i < change.Events.Count; i++)
        {
            var e = change.Events[i];
            var position = positions[i];
            batch.BatchCommands.Add(Command("""
                UPDATE events SET room_seq = $3, stream_ordering = $4, outlier = false WHERE event_id = $1 AND room_id = $2 AND outlier
                """, e.EventId, roomId, e.RoomSeq, position));
            batch.BatchCommands.Add(Command("""
                INSERT INTO events (stream_ordering, event_id, room_id, room_seq, depth, type, state_key, sender, origin_server_ts, instance_name, json)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (event_id) DO NOTHING
                """, position, e.EventId, roomId, e.RoomSeq, e.Depth, e.Type, e.StateKey, e.Sender, e.OriginServerTs, instanceName, e.Json));
            // The JSON now lives in events, as for every accepted event.
            batch.BatchCommands.Add(Command("""
                INSERT INTO room_dag_events (event_id, room_id, status) VALUES ($1, $2, 'accepted')
                ON CONFLICT (event_id) DO UPDATE SET status = 'accepted', json = NULL WHERE room_dag_events.status = 'outlier'
                """, e.EventId, roomId));
            AddRedactionAndRelation(batch, roomId, e);
        }
        foreach (var (redacts, redactionId) in change.LateRedactions) batch.BatchCommands.Add(Redaction(redacts, redactionId));
        foreach (var row in change.Rejected)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO room_dag_events (event_id, room_id, status, rejected_reason, json) VALUES ($1, $2, 'rejected', $3, $4)
                ON CONFLICT (event_id) DO NOTHING
                """, row.EventId, roomId, row.RejectedReason, row.Json));
        }
        if (change.Reached.Count > 0)
        {
            var delete = new NpgsqlBatchCommand("DELETE FROM room_backward_extremities WHERE room_id = $1 AND event_id = ANY($2)");
            delete.Parameters.Add(new() { Value = roomId });
            delete.Parameters.Add(new() { Value = change.Reached.ToArray() });
            batch.BatchCommands.Add(delete);
        }
        if (change.NewExtremities.Count > 0) batch.BatchCommands.Add(AddBackwardExtremities(roomId, change.NewExtremities));
        if (batch.BatchCommands.Count > 0) await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Gives a room created before the DAG was kept its first state group: its current state, whole, as the
    /// state after its last event (exact, since such rooms are linear). Fenced like an append.
    /// </summary>
    public async Task BootstrapDagAsync(string roomId, long epoch, long stateGroup, string lastEventId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var fence = new NpgsqlCommand("SELECT epoch FROM room_writers WHERE room_id = $1 FOR SHARE", connection, tx))
        {
            fence.Parameters.Add(new() { Value = roomId });
            if (await fence.ExecuteScalarAsync(cancellationToken) as long? != epoch) throw new WriterFencedException(roomId, epoch);
        }
        await using var batch = new NpgsqlBatch(connection, tx);
        batch.BatchCommands.Add(Command("INSERT INTO state_groups (id, room_id, prev_group, chain_length) VALUES ($1, $2, NULL, 0)", stateGroup, roomId));
        batch.BatchCommands.Add(Command("""
            INSERT INTO state_group_entries (state_group, type, state_key, event_id)
            SELECT $1, type, state_key, event_id FROM current_state_events WHERE room_id = $2
            """, stateGroup, roomId));
        batch.BatchCommands.Add(Command("""
            INSERT INTO room_dag_events (event_id, room_id, status, state_before, state_after) VALUES ($1, $2, 'accepted', NULL, $3)
            ON CONFLICT (event_id) DO NOTHING
            """, lastEventId, roomId, stateGroup));
        var tips = new NpgsqlBatchCommand("UPDATE rooms SET forward_extremities = $2, current_state_group = $3 WHERE room_id = $1");
        tips.Parameters.Add(new() { Value = roomId });
        tips.Parameters.Add(new() { Value = new[] { lastEventId } });
        tips.Parameters.Add(new() { Value = stateGroup });
        batch.BatchCommands.Add(tips);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
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

    private static NpgsqlParameter Bigint(long? value) =>
        new() { Value = value is { } v ? v : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint };

    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            if (value is NpgsqlParameter typed)
            {
                command.Parameters.Add(typed);
                continue;
            }
            command.Parameters.Add(value is null
                ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text }
                : new NpgsqlParameter { Value = value });
        }
        return command;
    }
}
