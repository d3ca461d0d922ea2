using Homeserver.Storage.Rooms;
using Npgsql;

namespace Homeserver.Storage.Sync;

/// <summary>What /sync reads: a user's rooms, the events of those rooms between two stream positions, and stored filters.</summary>
public sealed class SyncReader(NpgsqlDataSource dataSource)
{
    /// <summary>Rooms where the user is joined, invited or knocking, with that membership.</summary>
    public async Task<IReadOnlyList<(string RoomId, string Membership)>> GetRoomsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT room_id, membership FROM current_state_events
            WHERE type = 'm.room.member' AND state_key = $1 AND membership IN ('join', 'invite', 'knock')
            """);
        command.Parameters.Add(new() { Value = userId });
        var rooms = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rooms.Add((reader.GetString(0), reader.GetString(1)));
        return rooms;
    }

    /// <summary>Each room's events in (after, upTo], newest last, at most <paramref name="perRoom"/> + 1 per room (the extra says "limited").</summary>
    public async Task<IReadOnlyList<RoomEventRow>> GetEventsAsync(IReadOnlyList<string> roomIds, long after, long upTo, int perRoom,
        CancellationToken cancellationToken = default)
    {
        if (roomIds.Count == 0) return [];
        await using var command = dataSource.CreateCommand($"""
            SELECT {RoomReader.EventColumns} FROM (
                SELECT *, row_number() OVER (PARTITION BY room_id ORDER BY stream_ordering DESC) AS n
                FROM events WHERE room_id = ANY($1) AND stream_ordering > $2 AND stream_ordering <= $3) e
            JOIN rooms rm ON rm.room_id = e.room_id
            WHERE e.n <= $4
            ORDER BY e.stream_ordering
            """);
        command.Parameters.Add(new() { Value = roomIds.ToArray() });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = upTo });
        command.Parameters.Add(new() { Value = perRoom + 1 });
        return await RoomReader.ReadRowsAsync(command, cancellationToken);
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
