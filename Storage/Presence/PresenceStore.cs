using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.Presence;

public sealed record PresenceRow(string UserId, string State, string? StatusMessage, long LastActiveTs, bool CurrentlyActive);

/// <summary>The presence stream: each user's latest presence.</summary>
public sealed class PresenceStore(NpgsqlDataSource dataSource)
{
    public Task<long> SetAsync(PresenceRow presence, MultiWriterIdGenerator positions, CancellationToken cancellationToken = default) =>
        positions.WriteAsync(dataSource, async (connection, tx, position) =>
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO presence (user_id, state, status_msg, last_active_ts, currently_active, stream_id) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
                    last_active_ts = EXCLUDED.last_active_ts, currently_active = EXCLUDED.currently_active, stream_id = EXCLUDED.stream_id
                """, connection, tx).With(presence.UserId, presence.State, presence.StatusMessage, presence.LastActiveTs, presence.CurrentlyActive, position);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public async Task<PresenceRow?> GetAsync(string userId, CancellationToken cancellationToken = default) =>
        (await GetChangedAsync([userId], -1, long.MaxValue, cancellationToken)).FirstOrDefault();

    /// <summary>Presence of the given users that changed in (after, upTo].</summary>
    public async Task<IReadOnlyList<PresenceRow>> GetChangedAsync(IReadOnlyCollection<string> userIds, long after, long upTo,
        CancellationToken cancellationToken = default)
    {
        if (userIds.Count == 0 || upTo <= after) return [];
        await using var command = dataSource.CreateCommand("""
            SELECT user_id, state, status_msg, last_active_ts, currently_active FROM presence
            WHERE user_id = ANY($1) AND stream_id > $2 AND stream_id <= $3
            """).With(userIds.ToArray(), after, upTo);
        var rows = new List<PresenceRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new PresenceRow(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt64(3), reader.GetBoolean(4)));
        }
        return rows;
    }
}
