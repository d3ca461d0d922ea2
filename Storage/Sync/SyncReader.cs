using Homeserver.Storage.Rooms;
using Npgsql;

namespace Homeserver.Storage.Sync;

/// <summary>What /sync reads: a user's rooms, the events of those rooms between two stream positions, and stored filters.</summary>
public sealed class SyncReader(NpgsqlDataSource dataSource)
{
    /// <summary>Rooms where the user is joined, invited or knocking, with that membership and the position of its event.</summary>
    public async Task<IReadOnlyList<(string RoomId, string Membership, long Since)>> GetRoomsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT c.room_id, c.membership, e.stream_ordering FROM current_state_events c
            JOIN events e ON e.event_id = c.event_id
            WHERE c.type = 'm.room.member' AND c.state_key = $1 AND c.membership IN ('join', 'invite', 'knock')
            """);
        command.Parameters.Add(new() { Value = userId });
        var rooms = new List<(string, string, long)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rooms.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return rooms;
    }

    /// <summary>
    /// Rooms the user left or was banned from with a membership event in (after, upTo], with that
    /// event's position; rooms forgotten since are left out.
    /// </summary>
    public async Task<IReadOnlyList<(string RoomId, long LeftAt)>> GetLeftRoomsAsync(string userId, long after, long upTo,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT c.room_id, e.stream_ordering FROM current_state_events c
            JOIN events e ON e.event_id = c.event_id
            WHERE c.type = 'm.room.member' AND c.state_key = $1 AND c.membership IN ('leave', 'ban')
              AND e.stream_ordering > $2 AND e.stream_ordering <= $3
              AND NOT EXISTS (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = $1 AND f.room_id = c.room_id AND f.forgotten_at >= e.room_seq)
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = upTo });
        var rooms = new List<(string, long)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rooms.Add((reader.GetString(0), reader.GetInt64(1)));
        return rooms;
    }

    /// <summary>Per room: joined and invited counts, and up to five other joined or invited members (the heroes) by user ID.</summary>
    public async Task<IReadOnlyDictionary<string, (int Joined, int Invited, IReadOnlyList<string> Heroes)>> GetSummariesAsync(
        IReadOnlyList<string> roomIds, string userId, CancellationToken cancellationToken = default)
    {
        var summaries = new Dictionary<string, (int, int, IReadOnlyList<string>)>(StringComparer.Ordinal);
        if (roomIds.Count == 0) return summaries;
        await using var command = dataSource.CreateCommand("""
            SELECT room_id,
                   count(*) FILTER (WHERE membership = 'join')::int,
                   count(*) FILTER (WHERE membership = 'invite')::int,
                   (array_agg(state_key ORDER BY state_key) FILTER (WHERE membership IN ('join', 'invite') AND state_key <> $2))[1:5]
            FROM current_state_events WHERE room_id = ANY($1) AND type = 'm.room.member'
            GROUP BY room_id
            """);
        command.Parameters.Add(new() { Value = roomIds.ToArray() });
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            summaries[reader.GetString(0)] = (reader.GetInt32(1), reader.GetInt32(2), reader.IsDBNull(3) ? [] : reader.GetFieldValue<string[]>(3));
        }
        return summaries;
    }

    /// <summary>Everyone joined to a room the user is joined to, the user included.</summary>
    public async Task<IReadOnlyCollection<string>> GetRoomPeersAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT peer.state_key FROM current_state_events mine
            JOIN current_state_events peer ON peer.room_id = mine.room_id AND peer.type = 'm.room.member' AND peer.membership = 'join'
            WHERE mine.type = 'm.room.member' AND mine.state_key = $1 AND mine.membership = 'join'
            """);
        command.Parameters.Add(new() { Value = userId });
        var peers = new HashSet<string>(StringComparer.Ordinal) { userId };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) peers.Add(reader.GetString(0));
        return peers;
    }

    /// <summary>The users joined to any of the rooms now.</summary>
    public async Task<IReadOnlyCollection<string>> GetJoinedMembersAsync(IReadOnlyList<string> roomIds, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT state_key FROM current_state_events WHERE room_id = ANY($1) AND type = 'm.room.member' AND membership = 'join'
            """).With((object)roomIds.ToArray());
        var members = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) members.Add(reader.GetString(0));
        return members;
    }

    /// <summary>Each room's events in (after, upTo], newest last, at most <paramref name="perRoom"/> + 1 per room (the extra says "limited").</summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetEventsAsync(IReadOnlyList<string> roomIds, long after, long upTo, int perRoom,
        EventSelection? selection = null, CancellationToken cancellationToken = default)
    {
        if (roomIds.Count == 0) return [];
        await using var command = dataSource.CreateCommand($"""
            SELECT {RoomReader.EventColumns} FROM (
                SELECT *, row_number() OVER (PARTITION BY room_id ORDER BY stream_ordering DESC) AS n
                FROM events e WHERE room_id = ANY($1) AND stream_ordering > $2 AND stream_ordering <= $3 AND NOT outlier
                  {(selection is null ? "" : "AND " + selection.Condition(5))}) e
            JOIN rooms rm ON rm.room_id = e.room_id
            WHERE e.n <= $4
            ORDER BY e.stream_ordering
            """);
        command.Parameters.Add(new() { Value = roomIds.ToArray() });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = upTo });
        command.Parameters.Add(new() { Value = perRoom + 1 });
        selection?.AddParameters(command.Parameters);
        return await RoomReader.ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>The events of these rooms in (after, upTo], oldest first, at most <paramref name="limit"/> of them, optionally of one type.</summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetStreamEventsAsync(IReadOnlyList<string> roomIds, long after, long upTo, int limit,
        string? type = null, CancellationToken cancellationToken = default)
    {
        if (roomIds.Count == 0 || upTo <= after) return [];
        await using var command = dataSource.CreateCommand($"""
            SELECT {RoomReader.EventColumns} FROM events e JOIN rooms rm ON rm.room_id = e.room_id
            WHERE e.room_id = ANY($1) AND e.stream_ordering > $2 AND e.stream_ordering <= $3 AND NOT e.outlier AND ($5::text IS NULL OR e.type = $5)
            ORDER BY e.stream_ordering
            LIMIT $4
            """);
        command.Parameters.Add(new() { Value = roomIds.ToArray() });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = upTo });
        command.Parameters.Add(new() { Value = limit });
        command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await RoomReader.ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>The transaction keys under which this device sent these events (only those it sent, while kept).</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetTransactionKeysAsync(string userId, string deviceId, IReadOnlyList<string> eventIds,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT event_id, txn_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2 AND event_id = ANY($3)");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = deviceId });
        command.Parameters.Add(new() { Value = eventIds.ToArray() });
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) keys[reader.GetString(0)] = reader.GetString(1);
        return keys;
    }

    public async Task<long> SaveFilterAsync(string userId, string json, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("INSERT INTO user_filters (user_id, json) VALUES ($1, $2) RETURNING filter_id");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = json });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<string?> GetFilterAsync(string userId, long filterId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT json FROM user_filters WHERE user_id = $1 AND filter_id = $2");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = filterId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
