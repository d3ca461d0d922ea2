using Npgsql;

namespace Homeserver.Storage.Push;

public sealed record PusherRecord(string UserId, string AppId, string Pushkey, string Kind, string AppDisplayName, string DeviceDisplayName,
    string? ProfileTag, string Lang, string DataJson, long CreatedTs, long LastStreamOrdering);

/// <summary>A notification a pusher still has to send: the push action row with its event.</summary>
public sealed record PendingPush(string UserId, string RoomId, string EventId, long StreamOrdering, string ActionsJson, string EventJson);

/// <summary>Pushers and their progress through event_push_actions.</summary>
public sealed class PusherStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Adds or replaces a pusher. Unless <paramref name="append"/>, the same app and pushkey of any other
    /// user are removed (the device changed hands), as the spec says. New pushers start at the present.
    /// </summary>
    /// <summary>Creates or replaces a pusher, owned by <paramref name="deviceId"/>: it goes when that device goes.</summary>
    public async Task SetAsync(PusherRecord pusher, string? deviceId, bool append, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (!append)
        {
            await using var others = new NpgsqlCommand("DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3", connection, tx)
                .With(pusher.AppId, pusher.Pushkey, pusher.UserId);
            await others.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var upsert = new NpgsqlCommand("""
            INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, created_ts,
                                 last_stream_ordering, device_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (SELECT coalesce(max(stream_ordering), 0) FROM events), $11)
            ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET kind = EXCLUDED.kind, app_display_name = EXCLUDED.app_display_name,
                device_id = EXCLUDED.device_id,
                device_display_name = EXCLUDED.device_display_name, profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang, data = EXCLUDED.data
            """, connection, tx).With(pusher.UserId, pusher.AppId, pusher.Pushkey, pusher.Kind, pusher.AppDisplayName, pusher.DeviceDisplayName,
            pusher.ProfileTag, pusher.Lang, pusher.DataJson, pusher.CreatedTs, deviceId);
        await upsert.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<bool> DeleteAsync(string userId, string appId, string pushkey, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3")
            .With(userId, appId, pushkey);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<IReadOnlyList<PusherRecord>> GetAsync(string? userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, created_ts, last_stream_ordering
            FROM pushers WHERE $1::text IS NULL OR user_id = $1 ORDER BY user_id, app_id, pushkey
            """).With(userId);
        var rows = new List<PusherRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new PusherRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetInt64(9),
                reader.GetInt64(10)));
        }
        return rows;
    }

    /// <summary>The pusher's next notifications after its progress, up to <paramref name="upTo"/> (the events stream's safe position).</summary>
    public async Task<IReadOnlyList<PendingPush>> GetPendingAsync(PusherRecord pusher, long upTo, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT a.user_id, a.room_id, a.event_id, a.stream_ordering, a.actions, e.json
            FROM event_push_actions a JOIN events e ON e.event_id = a.event_id
            WHERE a.user_id = $1 AND a.notify AND a.stream_ordering > $2 AND a.stream_ordering <= $3
            ORDER BY a.stream_ordering LIMIT $4
            """).With(pusher.UserId, pusher.LastStreamOrdering, upTo, limit);
        var rows = new List<PendingPush>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new PendingPush(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetString(4), reader.GetString(5)));
        }
        return rows;
    }

    public async Task AdvanceAsync(PusherRecord pusher, long streamOrdering, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE pushers SET last_stream_ordering = GREATEST(last_stream_ordering, $4) WHERE user_id = $1 AND app_id = $2 AND pushkey = $3
            """).With(pusher.UserId, pusher.AppId, pusher.Pushkey, streamOrdering);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
