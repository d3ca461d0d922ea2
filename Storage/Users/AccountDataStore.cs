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
