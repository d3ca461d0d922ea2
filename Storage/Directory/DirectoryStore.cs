using Npgsql;

namespace Homeserver.Storage.Directory;

public sealed record AliasRecord(string Alias, string RoomId, string Creator);

public sealed record PublicRoomRow(string RoomId, long JoinedMembers, string? StateJsonArray);

/// <summary>Room aliases and the public room directory. Aliases are unique server-wide by primary key.</summary>
public sealed class DirectoryStore(NpgsqlDataSource dataSource)
{
    /// <summary>False when the alias is taken.</summary>
    public async Task<bool> CreateAliasAsync(string alias, string roomId, string creator, long now, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT (alias) DO NOTHING
            """);
        command.Parameters.Add(new() { Value = alias });
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = creator });
        command.Parameters.Add(new() { Value = now });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<AliasRecord?> FindAliasAsync(string alias, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT alias, room_id, creator FROM room_aliases WHERE alias = $1");
        command.Parameters.Add(new() { Value = alias });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new AliasRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2)) : null;
    }

    public async Task<bool> DeleteAliasAsync(string alias, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM room_aliases WHERE alias = $1");
        command.Parameters.Add(new() { Value = alias });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<IReadOnlyList<string>> GetAliasesAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias");
        command.Parameters.Add(new() { Value = roomId });
        var aliases = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) aliases.Add(reader.GetString(0));
        return aliases;
    }

    /// <summary>Points every alias of one room at another (a room upgrade); returns the aliases moved.</summary>
    public async Task<IReadOnlyList<string>> MoveAliasesAsync(string fromRoomId, string toRoomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE room_aliases SET room_id = $2 WHERE room_id = $1 RETURNING alias");
        command.Parameters.Add(new() { Value = fromRoomId });
        command.Parameters.Add(new() { Value = toRoomId });
        var aliases = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) aliases.Add(reader.GetString(0));
        return aliases;
    }

    public async Task SetPublishedAsync(string roomId, bool published, long now, CancellationToken cancellationToken = default)
    {
        await using var command = published
            ? dataSource.CreateCommand("INSERT INTO room_directory (room_id, published_ts) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            : dataSource.CreateCommand("DELETE FROM room_directory WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        if (published) command.Parameters.Add(new() { Value = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> IsPublishedAsync(string roomId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT 1 FROM room_directory WHERE room_id = $1");
        command.Parameters.Add(new() { Value = roomId });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>Published rooms, most members first, with the state events the directory shows (as a JSON array of PDUs).</summary>
    public async Task<IReadOnlyList<PublicRoomRow>> GetPublicRoomsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT d.room_id,
                   (SELECT count(*) FROM current_state_events m WHERE m.room_id = d.room_id AND m.type = 'm.room.member' AND m.membership = 'join'),
                   (SELECT json_agg(e.json::json) FROM current_state_events c JOIN events e ON e.event_id = c.event_id
                    WHERE c.room_id = d.room_id AND c.state_key = ''
                      AND c.type IN ('m.room.name', 'm.room.topic', 'm.room.canonical_alias', 'm.room.avatar', 'm.room.join_rules',
                                     'm.room.history_visibility', 'm.room.guest_access', 'm.room.create'))::text
            FROM room_directory d
            ORDER BY 2 DESC, d.room_id
            """);
        var rows = new List<PublicRoomRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new PublicRoomRow(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }
        return rows;
    }
}
