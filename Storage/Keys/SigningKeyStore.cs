using Npgsql;

namespace Homeserver.Storage.Keys;

/// <summary>The server's Ed25519 signing keys, kept in the database so every process signs with the same key.</summary>
public sealed class SigningKeyStore(NpgsqlDataSource dataSource)
{
    /// <summary>Returns the stored key, or stores <paramref name="candidate"/> if there is none (first start wins a race).</summary>
    public async Task<(string KeyId, string Seed)> GetOrCreateAsync(string serverName, Func<(string KeyId, string Seed)> candidate,
        CancellationToken cancellationToken = default)
    {
        var (keyId, seed) = candidate();
        await using (var insert = dataSource.CreateCommand("""
            INSERT INTO server_signing_keys (server_name, key_id, seed, created_ts)
            SELECT $1, $2, $3, $4
            WHERE NOT EXISTS (SELECT 1 FROM server_signing_keys WHERE server_name = $1)
            ON CONFLICT DO NOTHING
            """))
        {
            insert.Parameters.Add(new() { Value = serverName });
            insert.Parameters.Add(new() { Value = keyId });
            insert.Parameters.Add(new() { Value = seed });
            insert.Parameters.Add(new() { Value = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var select = dataSource.CreateCommand(
            "SELECT key_id, seed FROM server_signing_keys WHERE server_name = $1 ORDER BY created_ts, key_id LIMIT 1");
        select.Parameters.Add(new() { Value = serverName });
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetString(0), reader.GetString(1));
    }
}
