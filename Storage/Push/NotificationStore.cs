using Npgsql;

namespace Homeserver.Storage.Push;

/// <summary>What push-rule evaluation decided for one member about one event; written in the event's transaction.</summary>
public sealed record PushActionRow(string UserId, string? ThreadId, bool Notify, bool Highlight, string ActionsJson);

public sealed record UnreadCounts(string RoomId, string? ThreadId, int Notifications, int Highlights);

public sealed record NotificationRow(string RoomId, string EventId, long StreamOrdering, string ActionsJson, bool Read);

/// <summary>Unread notification counts and the /notifications list, from event_push_actions and receipts.</summary>
public sealed class NotificationStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Notifying events after the user's read receipt, per room and thread (null: the main timeline).
    /// An unthreaded receipt covers every thread; a threaded one covers its thread ("main" the main timeline).
    /// Nothing before the user's current membership event counts (the invite that brought them in, say), as in Synapse.
    /// </summary>
    /// <param name="after">Count only events after this position too: the caller adds what it counted up to there (0: everything).</param>
    /// <param name="upTo">The sync token's events position: counts match the timeline handed out with them.</param>
    public async Task<IReadOnlyList<UnreadCounts>> GetUnreadAsync(string userId, IReadOnlyList<string> roomIds, long after, long upTo,
        CancellationToken cancellationToken = default)
    {
        if (roomIds.Count == 0) return [];
        await using var command = dataSource.CreateCommand("""
            SELECT a.room_id, a.thread_id, count(*) FILTER (WHERE a.notify)::int, count(*) FILTER (WHERE a.highlight)::int
            FROM event_push_actions a
            WHERE a.user_id = $1 AND a.room_id = ANY($2) AND (a.notify OR a.highlight) AND a.stream_ordering > $3 AND a.stream_ordering <= $4
              AND a.stream_ordering > GREATEST(
                  (SELECT max(r.event_stream_ordering) FROM receipts r
                   WHERE r.room_id = a.room_id AND r.user_id = $1 AND r.receipt_type IN ('m.read', 'm.read.private')
                     AND r.thread_id IN ('', CASE WHEN a.thread_id = '' THEN 'main' ELSE a.thread_id END)),
                  (SELECT e.stream_ordering FROM current_state_events c JOIN events e ON e.event_id = c.event_id
                   WHERE c.room_id = a.room_id AND c.type = 'm.room.member' AND c.state_key = $1), 0)
            GROUP BY a.room_id, a.thread_id
            """).With(userId, roomIds.ToArray(), after, upTo);
        var rows = new List<UnreadCounts>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var thread = reader.GetString(1);
            rows.Add(new UnreadCounts(reader.GetString(0), thread.Length == 0 ? null : thread, reader.GetInt32(2), reader.GetInt32(3)));
        }
        return rows;
    }

    /// <summary>The user's notifications, newest first, before <paramref name="before"/>, optionally highlights only.</summary>
    public async Task<IReadOnlyList<NotificationRow>> GetNotificationsAsync(string userId, long before, int limit, bool highlightsOnly,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT a.room_id, a.event_id, a.stream_ordering, a.actions,
                   a.stream_ordering <= coalesce((SELECT max(r.event_stream_ordering) FROM receipts r
                       WHERE r.room_id = a.room_id AND r.user_id = $1 AND r.receipt_type IN ('m.read', 'm.read.private')), 0)
            FROM event_push_actions a
            WHERE a.user_id = $1 AND a.notify AND a.stream_ordering < $2 AND (NOT $4 OR a.highlight)
            ORDER BY a.stream_ordering DESC LIMIT $3
            """).With(userId, before, limit, highlightsOnly);
        var rows = new List<NotificationRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new NotificationRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetBoolean(4)));
        }
        return rows;
    }
}
