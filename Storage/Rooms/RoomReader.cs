using Homeserver.Protocol;
using Npgsql;

namespace Homeserver.Storage.Rooms;

/// <summary>A stored event with what serving it needs: its room version and, when redacted, the redaction.</summary>
public sealed record RoomEventRow(string EventId, string RoomId, long RoomSeq, long StreamOrdering, string Json, string RoomVersion,
    string? RedactedBy)
{
    /// <summary>The sender deactivated their account with erasure: who was not joined when it was sent sees it pruned.</summary>
    public bool SenderErased { get; init; }

    /// <summary>Served pruned (a sender's erasure), though no redaction names it.</summary>
    public bool ServedPruned { get; init; }
}

/// <summary>Reads of rooms, state and history that API hosts serve directly from PostgreSQL.</summary>
public sealed class RoomReader(NpgsqlDataSource dataSource)
{
    /// <summary>The columns every <see cref="RoomEventRow"/> query selects, from <c>events e JOIN rooms rm</c>.</summary>
    internal const string EventColumns = """
        e.event_id, e.room_id, e.room_seq, e.stream_ordering, e.json, rm.room_version,
        (SELECT min(r.redaction_event_id) FROM redactions r WHERE r.redacts = e.event_id),
        EXISTS (SELECT 1 FROM erased_users eu WHERE eu.user_id = e.sender)
        """;

    public async Task<string?> GetRoomVersionAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT room_version FROM rooms WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<string?> GetMembershipAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT membership FROM current_state_events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2");
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = userId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>The room of an event this server holds, accepted or not.</summary>
    public async Task<string?> GetRoomOfEventAsync(string eventId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT room_id FROM events WHERE event_id = $1 UNION ALL SELECT room_id FROM room_dag_events WHERE event_id = $1 LIMIT 1");
        command.Parameters.Add(new() { Value = eventId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>The servers of the room's joined members (the part of each user ID after its first colon), in name order.</summary>
    public async Task<IReadOnlyList<string>> GetJoinedServersAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT substr(state_key, strpos(state_key, ':') + 1) AS server FROM current_state_events
            WHERE room_id = $1 AND type = 'm.room.member' AND membership = 'join' ORDER BY server
            """);
        command.Parameters.Add(new() { Value = roomId });
        var servers = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) servers.Add(reader.GetString(0));
        return servers;
    }

    /// <summary>The rooms where the user's current membership is one of <paramref name="memberships"/>.</summary>
    public async Task<IReadOnlyList<string>> GetRoomsWithMembershipAsync(string userId, IReadOnlyList<string> memberships,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT room_id FROM current_state_events WHERE type = 'm.room.member' AND state_key = $1 AND membership = ANY($2) ORDER BY room_id");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = memberships.ToArray() });
        var rooms = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rooms.Add(reader.GetString(0));
        return rooms;
    }

    /// <summary>The servers with a user joined to any room <paramref name="userId"/> is joined to (the user's own among them).</summary>
    public async Task<IReadOnlyList<string>> GetServersSharingRoomsWithAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT substr(c.state_key, strpos(c.state_key, ':') + 1) AS server FROM current_state_events c
            WHERE c.type = 'm.room.member' AND c.membership = 'join' AND c.room_id IN (
                SELECT room_id FROM current_state_events WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join')
            ORDER BY server
            """);
        command.Parameters.Add(new() { Value = userId });
        var servers = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) servers.Add(reader.GetString(0));
        return servers;
    }

    public async Task<IReadOnlyList<string>> GetJoinedRoomsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT room_id FROM current_state_events WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join' ORDER BY room_id");
        command.Parameters.Add(new() { Value = userId });
        var rooms = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rooms.Add(reader.GetString(0));
        return rooms;
    }

    /// <summary>Current state events of a room, optionally of one type and state key.</summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetCurrentStateAsync(string roomId, string? type = null, string? stateKey = null,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {EventColumns}
            FROM current_state_events c JOIN events e ON e.event_id = c.event_id JOIN rooms rm ON rm.room_id = e.room_id
            WHERE c.room_id = $1 AND ($2::text IS NULL OR c.type = $2) AND ($3::text IS NULL OR c.state_key = $3)
            ORDER BY e.room_seq
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)stateKey ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>
    /// The current state of several rooms in one query (an initial sync's many rooms), by room. With
    /// <paramref name="onlyMembers"/>, member events are left out (lazy loading) except those of these
    /// users and, given <paramref name="membersChangedAfter"/>, those sent after that events position.
    /// With <paramref name="membersOnly"/>, only member events come.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<RoomEventRow>>> GetCurrentStateAsync(IReadOnlyList<string> roomIds,
        IReadOnlyCollection<string>? onlyMembers = null, long? membersChangedAfter = null, bool membersOnly = false,
        CancellationToken cancellationToken = default)
    {
        if (roomIds.Count == 0) return new Dictionary<string, IReadOnlyList<RoomEventRow>>();
        await using var command = dataSource.CreateCommand($"""
            SELECT {EventColumns}
            FROM current_state_events c JOIN events e ON e.event_id = c.event_id JOIN rooms rm ON rm.room_id = e.room_id
            WHERE c.room_id = ANY($1)
              AND ($2::text[] IS NULL OR (c.type <> 'm.room.member' AND NOT $4)
                   OR (c.type = 'm.room.member' AND (c.state_key = ANY($2) OR e.stream_ordering > $3)))
            ORDER BY e.room_id, e.room_seq
            """);
        command.Parameters.Add(new() { Value = roomIds.ToArray() });
        command.Parameters.Add(new() { Value = onlyMembers is null ? DBNull.Value : onlyMembers.ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = membersChangedAfter ?? long.MaxValue });
        command.Parameters.Add(new() { Value = membersOnly });
        return (await ReadRowsAsync(command, cancellationToken)).GroupBy(r => r.RoomId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<RoomEventRow>)g.ToList(), StringComparer.Ordinal);
    }

    /// <summary>The last room_seq of several rooms, by room.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetLastRoomSeqsAsync(IReadOnlyList<string> roomIds, CancellationToken cancellationToken = default)
    {
        var seqs = new Dictionary<string, long>(StringComparer.Ordinal);
        if (roomIds.Count == 0) return seqs;
        await using var command = dataSource.CreateCommand("SELECT room_id, max(room_seq) FROM events WHERE room_id = ANY($1) GROUP BY room_id");
        command.Parameters.Add(new() { Value = roomIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) seqs[reader.GetString(0)] = reader.GetInt64(1);
        return seqs;
    }

    /// <summary>
    /// The room's state as it stood before the room's event <paramref name="boundary"/> (the room is
    /// linear: each key's last state event before it), optionally of one type and state key.
    /// </summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetStateBeforeAsync(string roomId, long boundary, string? type = null, string? stateKey = null,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT * FROM (
                SELECT DISTINCT ON (e.type, e.state_key) {EventColumns}
                FROM events e JOIN rooms rm ON rm.room_id = e.room_id
                WHERE e.room_id = $1 AND e.state_key IS NOT NULL AND e.room_seq < $2
                  AND ($3::text IS NULL OR e.type = $3) AND ($4::text IS NULL OR e.state_key = $4)
                ORDER BY e.type, e.state_key, e.room_seq DESC) s
            ORDER BY s.room_seq
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = boundary });
        command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)stateKey ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await ReadRowsAsync(command, cancellationToken);
    }

    public async Task<RoomEventRow?> GetEventAsync(string eventId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {EventColumns} FROM events e JOIN rooms rm ON rm.room_id = e.room_id WHERE e.event_id = $1");
        command.Parameters.Add(new() { Value = eventId });
        var rows = await ReadRowsAsync(command, cancellationToken);
        return rows.Count > 0 ? rows[0] : null;
    }

    /// <summary>A page of a room's timeline: backwards from below <paramref name="boundary"/>, or forwards from it (never the state a remote join brought, which is not history).</summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetTimelineAsync(string roomId, long boundary, bool backwards, int limit,
        EventSelection? selection = null, CancellationToken cancellationToken = default)
    {
        var selected = selection is null ? "" : " AND " + selection.Condition(4);
        await using var command = dataSource.CreateCommand(backwards
            ? $"SELECT {EventColumns} FROM events e JOIN rooms rm ON rm.room_id = e.room_id WHERE e.room_id = $1 AND e.room_seq < $2 AND NOT e.outlier{selected} ORDER BY e.room_seq DESC LIMIT $3"
            : $"SELECT {EventColumns} FROM events e JOIN rooms rm ON rm.room_id = e.room_id WHERE e.room_id = $1 AND e.room_seq >= $2 AND NOT e.outlier{selected} ORDER BY e.room_seq LIMIT $3");
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = boundary });
        command.Parameters.Add(new() { Value = limit });
        selection?.AddParameters(command.Parameters);
        return await ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>Events relating to <paramref name="parentId"/>, optionally of one relation and event type, paged by room order.</summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetRelationsAsync(string roomId, string parentId, string? relationType, string? eventType,
        long boundary, bool backwards, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {EventColumns}
            FROM event_relations er JOIN events e ON e.event_id = er.event_id JOIN rooms rm ON rm.room_id = e.room_id
            WHERE er.relates_to_id = $1 AND er.room_id = $2
              AND ($3::text IS NULL OR er.relation_type = $3) AND ($4::text IS NULL OR er.event_type = $4)
              AND {(backwards ? "er.room_seq < $5" : "er.room_seq >= $5")}
            ORDER BY er.room_seq {(backwards ? "DESC" : "ASC")} LIMIT $6
            """);
        command.Parameters.Add(new() { Value = parentId });
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = (object?)relationType ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)eventType ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = boundary });
        command.Parameters.Add(new() { Value = limit });
        return await ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>Thread roots of a room, most recently active first, with the room order of their latest reply.</summary>
    public async Task<IReadOnlyList<(RoomEventRow Root, long LatestSeq)>> GetThreadsAsync(string roomId, long beforeLatest, int limit,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH threads AS (
                SELECT relates_to_id, max(room_seq) AS latest FROM event_relations
                WHERE room_id = $1 AND relation_type = 'm.thread' GROUP BY relates_to_id)
            SELECT {EventColumns}, t.latest
            FROM threads t JOIN events e ON e.event_id = t.relates_to_id JOIN rooms rm ON rm.room_id = e.room_id
            WHERE t.latest < $2 ORDER BY t.latest DESC LIMIT $3
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = beforeLatest });
        command.Parameters.Add(new() { Value = limit });
        var rows = await ReadRowsAsync(command, cancellationToken, extraColumn: true);
        return rows.Select(r => (r.Row, r.Extra)).ToList();
    }

    /// <summary>The stripped state (a JSON array) another server's invite of the user came with, or null.</summary>
    public async Task<string?> GetInviteRoomStateAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT events FROM invite_room_state WHERE room_id = $1 AND user_id = $2");
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = userId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>The room's history_visibility changes and the user's membership changes, in room order: what visibility is decided by.</summary>
    public async Task<IReadOnlyList<(long RoomSeq, string Type, string Value)>> GetVisibilityTimelineAsync(string roomId, string userId,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT room_seq, type, json FROM events
            WHERE room_id = $1 AND (type = 'm.room.history_visibility' AND state_key = '' OR type = 'm.room.member' AND state_key = $2)
            ORDER BY room_seq
            """);
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = userId });
        var changes = new List<(long, string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var type = reader.GetString(1);
            var content = Homeserver.Protocol.StoredJson.Parse(reader.GetString(2))?["content"];
            var value = (type == "m.room.member" ? content?["membership"] : content?["history_visibility"]) is System.Text.Json.Nodes.JsonValue v &&
                v.TryGetValue<string>(out var s) ? s : "";
            changes.Add((reader.GetInt64(0), type, value));
        }
        return changes;
    }

    /// <summary>The room position at which the user forgot the room, or null.</summary>
    public async Task<long?> GetForgottenAtAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT forgotten_at FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) as long?;
    }

    /// <summary>The room boundary at a global events position: before the room's first event after it.</summary>
    public async Task<long> GetBoundaryAtAsync(string roomId, long streamOrdering, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT COALESCE(max(room_seq), 0) + 1 FROM events WHERE room_id = $1 AND stream_ordering <= $2");
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = streamOrdering });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<long> GetLastRoomSeqAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT COALESCE(max(room_seq), 0) FROM events WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<(string? DisplayName, string? AvatarUrl)> GetProfileAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT displayname, avatar_url FROM profiles WHERE user_id = $1");
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1))
            : (null, null);
    }

    internal static async Task<IReadOnlyList<RoomEventRow>> ReadRowsAsync(NpgsqlCommand command, CancellationToken cancellationToken) =>
        (await ReadRowsAsync(command, cancellationToken, extraColumn: false)).Select(r => r.Row).ToList();

    private static async Task<IReadOnlyList<(RoomEventRow Row, long Extra)>> ReadRowsAsync(NpgsqlCommand command, CancellationToken cancellationToken,
        bool extraColumn)
    {
        var rows = new List<(RoomEventRow, long)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add((new RoomEventRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6)) { SenderErased = reader.GetBoolean(7) },
                extraColumn ? reader.GetInt64(8) : 0));
        }
        return rows;
    }
}
