using Npgsql;

namespace Homeserver.Storage.Rooms;

/// <summary>Reads of the events table that any process may do (API hosts, stream catch-up).</summary>
public sealed class EventReader(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<EventRow>> ReadStreamAsync(long after, long upTo, int limit,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT stream_ordering, event_id, room_id, type, state_key, sender, instance_name
            FROM events WHERE stream_ordering > $1 AND stream_ordering <= $2
            ORDER BY stream_ordering LIMIT $3
            """);
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = upTo });
        command.Parameters.Add(new() { Value = limit });
        var rows = new List<EventRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new EventRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), reader.GetString(6)));
        }
        return rows;
    }

    public async Task<string?> GetJsonAsync(string eventId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT json FROM events WHERE event_id = $1");
        command.Parameters.Add(new() { Value = eventId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<long> CountAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM events WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}

public sealed record EventRow(long StreamOrdering, string EventId, string RoomId, string Type, string? StateKey,
    string Sender, string InstanceName);
