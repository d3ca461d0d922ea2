using Npgsql;

namespace Homeserver.Storage.Directory;

public sealed record UserDirectoryEntry(string UserId, string? DisplayName, string? AvatarUrl);

/// <summary>
/// /user_directory/search, as Synapse answers it by default: users who share a room with the
/// searcher or sit in a public room, matched on user ID or display name.
/// </summary>
public sealed class UserDirectoryStore(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<UserDirectoryEntry>> SearchAsync(string searcher, string term, int limit, CancellationToken cancellationToken = default)
    {
        var pattern = "%" + term.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_") + "%";
        await using var command = dataSource.CreateCommand("""
            SELECT p.user_id, p.displayname, p.avatar_url FROM profiles p JOIN users u ON u.user_id = p.user_id
            WHERE NOT u.deactivated AND (p.user_id ILIKE $2 OR p.displayname ILIKE $2)
              AND (p.user_id = $1
                   OR EXISTS (SELECT 1 FROM current_state_events theirs JOIN current_state_events mine ON mine.room_id = theirs.room_id
                              WHERE theirs.type = 'm.room.member' AND theirs.state_key = p.user_id AND theirs.membership = 'join'
                                AND mine.type = 'm.room.member' AND mine.state_key = $1 AND mine.membership = 'join')
                   OR EXISTS (SELECT 1 FROM current_state_events theirs
                              JOIN current_state_events rule ON rule.room_id = theirs.room_id AND rule.type = 'm.room.join_rules' AND rule.state_key = ''
                              JOIN events e ON e.event_id = rule.event_id
                              WHERE theirs.type = 'm.room.member' AND theirs.state_key = p.user_id AND theirs.membership = 'join'
                                AND (e.json::jsonb -> 'content' ->> 'join_rule') = 'public'))
            ORDER BY (p.displayname ILIKE $3) DESC, p.user_id
            LIMIT $4
            """).With(searcher, pattern, term.Replace("%", "").Replace("_", "") + "%", limit);
        var entries = new List<UserDirectoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new UserDirectoryEntry(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }
        return entries;
    }
}
