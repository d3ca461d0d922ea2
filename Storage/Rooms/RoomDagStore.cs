using Npgsql;

namespace Homeserver.Storage.Rooms;

/// <summary>
/// Reads of the room DAG: state groups (the state before or after any event), events with their
/// status whatever it is, and IDs for new state groups. Writes go through <see cref="RoomEventStore"/>,
/// in the room grain's fenced transactions.
/// </summary>
public sealed class RoomDagStore(NpgsqlDataSource dataSource)
{
    /// <summary>Past this many deltas a state group is written whole, so reading one never walks a long chain.</summary>
    public const int MaxChainLength = 50;

    public async Task<IReadOnlyList<long>> AllocateStateGroupIdsAsync(int count, CancellationToken cancellationToken = default)
    {
        if (count == 0) return [];
        await using var command = dataSource.CreateCommand("SELECT nextval('state_group_ids') FROM generate_series(1, $1)");
        command.Parameters.Add(new() { Value = count });
        var ids = new List<long>(count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetInt64(0));
        return ids;
    }

    /// <summary>The whole state a group stands for: its entries over those of the groups it is a delta of, nearest first.</summary>
    public async Task<IReadOnlyDictionary<(string Type, string StateKey), string>> GetStateAsync(long stateGroup, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            WITH RECURSIVE chain (id, prev, distance) AS (
                SELECT id, prev_group, 0 FROM state_groups WHERE id = $1
                UNION ALL
                SELECT g.id, g.prev_group, c.distance + 1 FROM state_groups g JOIN chain c ON g.id = c.prev
            )
            SELECT DISTINCT ON (e.type, e.state_key) e.type, e.state_key, e.event_id
            FROM chain c JOIN state_group_entries e ON e.state_group = c.id
            ORDER BY e.type, e.state_key, c.distance
            """);
        command.Parameters.Add(new() { Value = stateGroup });
        var state = new Dictionary<(string, string), string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) state[(reader.GetString(0), reader.GetString(1))] = reader.GetString(2);
        return state;
    }

    /// <summary>How many deltas lead from the group to a full snapshot.</summary>
    public async Task<int> GetChainLengthAsync(long stateGroup, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT chain_length FROM state_groups WHERE id = $1");
        command.Parameters.Add(new() { Value = stateGroup });
        return await command.ExecuteScalarAsync(cancellationToken) is int length ? length : 0;
    }

    /// <summary>The events of <paramref name="roomId"/> among <paramref name="eventIds"/> that the DAG holds, whatever their status.</summary>
    public async Task<IReadOnlyList<DagEvent>> GetEventsAsync(string roomId, IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default)
    {
        if (eventIds.Count == 0) return [];
        await using var command = dataSource.CreateCommand("""
            SELECT d.event_id, d.room_id, d.status, d.state_before, d.state_after, COALESCE(d.json, e.json), d.rejected_reason
            FROM room_dag_events d LEFT JOIN events e ON e.event_id = d.event_id
            WHERE d.event_id = ANY($1) AND d.room_id = $2
            """);
        command.Parameters.Add(new() { Value = eventIds.ToArray() });
        command.Parameters.Add(new() { Value = roomId });
        var events = new List<DagEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new DagEvent(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetInt64(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }
        return events;
    }

    /// <summary>
    /// The PDU JSON of events of the room, accepted or not (an auth chain may run through outliers and
    /// through events of rooms created before the DAG was kept, which only <c>events</c> holds).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> GetPdusAsync(string roomId, IReadOnlyCollection<string> eventIds,
        CancellationToken cancellationToken = default)
    {
        var pdus = new Dictionary<string, string>(StringComparer.Ordinal);
        if (eventIds.Count == 0) return pdus;
        await using var command = dataSource.CreateCommand("""
            SELECT event_id, json FROM events WHERE event_id = ANY($1) AND room_id = $2
            UNION ALL
            SELECT event_id, json FROM room_dag_events WHERE event_id = ANY($1) AND room_id = $2 AND json IS NOT NULL
            """);
        command.Parameters.Add(new() { Value = eventIds.ToArray() });
        command.Parameters.Add(new() { Value = roomId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) pdus.TryAdd(reader.GetString(0), reader.GetString(1));
        return pdus;
    }

    /// <summary>The room's forward extremities (its tips), empty for a room unknown or known only through an invite.</summary>
    public async Task<IReadOnlyList<string>> GetForwardExtremitiesAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT forward_extremities FROM rooms WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) is string[] tips ? tips : [];
    }

    /// <summary>Which of the events are in the room's timeline (the <c>events</c> table), rather than only in the DAG or nowhere.</summary>
    public async Task<IReadOnlySet<string>> GetTimelineIdsAsync(string roomId, IReadOnlyCollection<string> eventIds,
        CancellationToken cancellationToken = default)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        if (eventIds.Count == 0) return ids;
        await using var command = dataSource.CreateCommand("SELECT event_id FROM events WHERE event_id = ANY($1) AND room_id = $2");
        command.Parameters.Add(new() { Value = eventIds.ToArray() });
        command.Parameters.Add(new() { Value = roomId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>Of the events, those in the room's <c>events</c> table, each with whether it is an outlier there (state a remote join brought, not yet placed in the history).</summary>
    public async Task<IReadOnlyDictionary<string, bool>> GetTimelineOutliersAsync(string roomId, IReadOnlyCollection<string> eventIds,
        CancellationToken cancellationToken = default)
    {
        var found = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (eventIds.Count == 0) return found;
        await using var command = dataSource.CreateCommand("SELECT event_id, outlier FROM events WHERE event_id = ANY($1) AND room_id = $2");
        command.Parameters.Add(new() { Value = eventIds.ToArray() });
        command.Parameters.Add(new() { Value = roomId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) found[reader.GetString(0)] = reader.GetBoolean(1);
        return found;
    }

    /// <summary>Where the next backfill of the room asks from: the events its earliest events cite and it lacks, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<string>> GetBackwardExtremitiesAsync(string roomId, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT event_id FROM room_backward_extremities WHERE room_id = $1 ORDER BY event_id LIMIT $2");
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = limit });
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>The room position of the room's earliest event (outliers included), or null when it has none.</summary>
    public async Task<long?> GetFirstRoomSeqAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT min(room_seq) FROM events WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) as long?;
    }

    /// <summary>
    /// The room's redaction events that target any of <paramref name="eventIds"/>: a redaction can arrive before the
    /// event it redacts (backfill goes newest first), and takes effect once that event is here.
    /// </summary>
    public async Task<IReadOnlyList<(string RedactionId, string Sender, string Redacts)>> GetRedactionsTargetingAsync(string roomId,
        IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default)
    {
        var found = new List<(string, string, string)>();
        if (eventIds.Count == 0) return found;
        await using var command = dataSource.CreateCommand("""
            SELECT event_id, sender, COALESCE(json::jsonb ->> 'redacts', json::jsonb -> 'content' ->> 'redacts')
            FROM events
            WHERE room_id = $1 AND type = 'm.room.redaction'
              AND COALESCE(json::jsonb ->> 'redacts', json::jsonb -> 'content' ->> 'redacts') = ANY($2)
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = eventIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) found.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return found;
    }

    /// <summary>
    /// The timeline event of the room sent closest to <paramref name="ts"/> on or after it (<paramref name="forward"/>)
    /// or on or before it, with its timestamp; rejected events are never an answer.
    /// </summary>
    public async Task<(string EventId, long OriginServerTs)?> FindEventByTimestampAsync(string roomId, long ts, bool forward,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT e.event_id, e.origin_server_ts FROM events e
            WHERE e.room_id = $1 AND e.origin_server_ts {(forward ? ">=" : "<=")} $2
              AND NOT EXISTS (SELECT 1 FROM room_dag_events d WHERE d.event_id = e.event_id AND d.status <> 'accepted')
            ORDER BY e.origin_server_ts {(forward ? "ASC" : "DESC")}, e.stream_ordering {(forward ? "ASC" : "DESC")} LIMIT 1
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = ts });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetInt64(1)) : null;
    }
}
