using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.Users;

/// <summary>Account data (global and per room), written by the user's grain with a stream position.</summary>
public sealed class AccountDataStore(NpgsqlDataSource dataSource)
{
    public async Task<long> SetAsync(string userId, string? roomId, string type, string contentJson,
        MultiWriterIdGenerator positions, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        using var lease = await positions.AllocateAsync(connection, tx, cancellationToken);
        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO account_data (user_id, room_id, type, content, stream_id) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id
            """, connection, tx))
        {
            upsert.Parameters.Add(new() { Value = userId });
            upsert.Parameters.Add(new() { Value = roomId ?? "" });
            upsert.Parameters.Add(new() { Value = type });
            upsert.Parameters.Add(new() { Value = contentJson });
            upsert.Parameters.Add(new() { Value = lease.Position });
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        return lease.Position;
    }

    /// <summary>A user's account data changed after <paramref name="after"/> (all of it for 0): (room or null, type, content).</summary>
    public async Task<IReadOnlyList<(string? RoomId, string Type, string Content)>> GetChangedAsync(string userId, long after, long upTo,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT room_id, type, content FROM account_data WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = upTo });
        var rows = new List<(string?, string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var room = reader.GetString(0);
            rows.Add((room.Length == 0 ? null : room, reader.GetString(1), reader.GetString(2)));
        }
        return rows;
    }

    public async Task<string?> GetAsync(string userId, string? roomId, string type, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = roomId ?? "" });
        command.Parameters.Add(new() { Value = type });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
