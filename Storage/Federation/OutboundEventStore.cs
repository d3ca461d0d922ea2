using Npgsql;

namespace Homeserver.Storage.Federation;

/// <summary>A new event as the federation sender needs it: where it is, who sent it.</summary>
/// <param name="LeavingMember">The user a leave, kick or ban removes from the room, whose server must hear of it though no longer in it.</param>
public sealed record OutboundEvent(string RoomId, string EventId, long StreamOrdering, string Sender, string? LeavingMember = null);

/// <summary>The events table read by position for outbound federation, and each sender instance's position in it.</summary>
public sealed class OutboundEventStore(NpgsqlDataSource dataSource)
{
    /// <summary>The instance's position; an instance without one starts at <paramref name="start"/> (the present), recorded.</summary>
    public async Task<long> GetPositionAsync(string instanceName, long start, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO federation_sender_positions (instance_name, stream_ordering) VALUES ($1, $2)
            ON CONFLICT (instance_name) DO UPDATE SET stream_ordering = federation_sender_positions.stream_ordering
            RETURNING stream_ordering
            """).With(instanceName, start);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task SetPositionAsync(string instanceName, long position, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE federation_sender_positions SET stream_ordering = GREATEST(stream_ordering, $2) WHERE instance_name = $1
            """).With(instanceName, position);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Events after <paramref name="after"/> up to <paramref name="upTo"/> (the stream's safe position), in order.</summary>
    public async Task<IReadOnlyList<OutboundEvent>> GetAfterAsync(long after, long upTo, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT room_id, event_id, stream_ordering, sender,
                   CASE WHEN type = 'm.room.member' AND (json::jsonb -> 'content' ->> 'membership') IN ('leave', 'ban') THEN state_key END
            FROM events
            WHERE stream_ordering > $1 AND stream_ordering <= $2 ORDER BY stream_ordering LIMIT $3
            """).With(after, upTo, limit);
        var events = new List<OutboundEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new OutboundEvent(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return events;
    }
}
