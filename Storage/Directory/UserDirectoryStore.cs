using Npgsql;

namespace Homeserver.Storage.Directory;

public sealed record UserDirectoryEntry(string UserId, string? DisplayName, string? AvatarUrl);

/// <summary>
/// /user_directory/search, as Synapse answers it by default: users who share a room with the
/// searcher or sit in a public room, matched on user ID or display name.
/// </summary>
public sealed class UserDirectoryStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Users whose ID or display name contains <paramref name="term"/>, among those the searcher may find: as
    /// Synapse's directory, this server's users and remote users who share a room with the searcher or are
    /// joined to a public room (with <paramref name="searchAllUsers"/>, every user of this server and every
    /// remote member of any of its rooms). A remote user's name and avatar come from a membership the searcher
    /// could see, so a private room's nickname does not leak through the directory.
    /// </summary>
    public async Task<IReadOnlyList<UserDirectoryEntry>> SearchAsync(string searcher, string term, int limit, bool searchAllUsers = false,
        bool preferLocalUsers = false, CancellationToken cancellationToken = default)
    {
        var pattern = "%" + term.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_") + "%";
        await using var command = dataSource.CreateCommand("""
            WITH public_rooms AS (
                SELECT r.room_id FROM current_state_events r JOIN events e ON e.event_id = r.event_id
                WHERE r.type = 'm.room.join_rules' AND r.state_key = '' AND (e.json::jsonb -> 'content' ->> 'join_rule') = 'public'),
            searchers_rooms AS (
                SELECT room_id FROM current_state_events WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'),
            seen AS (
                SELECT m.state_key AS user_id, m.event_id FROM current_state_events m
                WHERE m.type = 'm.room.member' AND m.membership = 'join'
                  AND ($5 OR m.room_id IN (SELECT room_id FROM searchers_rooms) OR m.room_id IN (SELECT room_id FROM public_rooms))),
            candidates AS (
                SELECT p.user_id, p.displayname, p.avatar_url, true AS local FROM profiles p JOIN users u ON u.user_id = p.user_id
                WHERE NOT u.deactivated AND ($5 OR p.user_id = $1 OR EXISTS (SELECT 1 FROM seen s WHERE s.user_id = p.user_id))
                UNION ALL
                SELECT * FROM (
                    SELECT DISTINCT ON (s.user_id) s.user_id, c.content ->> 'displayname', c.content ->> 'avatar_url', false
                    FROM seen s JOIN events e ON e.event_id = s.event_id CROSS JOIN LATERAL (SELECT e.json::jsonb -> 'content' AS content) c
                    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = s.user_id)
                    ORDER BY s.user_id, e.stream_ordering DESC) remote)
            SELECT user_id, displayname, avatar_url FROM candidates
            WHERE user_id ILIKE $2 OR displayname ILIKE $2
            ORDER BY ($6 AND local) DESC, (displayname ILIKE $3) DESC, user_id
            LIMIT $4
            """).With(searcher, pattern, term.Replace("%", "").Replace("_", "") + "%", limit, searchAllUsers, preferLocalUsers);
        var entries = new List<UserDirectoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new UserDirectoryEntry(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }
        return entries;
    }
}
