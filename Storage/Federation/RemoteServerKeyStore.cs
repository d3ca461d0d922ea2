using Npgsql;

namespace Homeserver.Storage.Federation;

/// <summary>
/// One verified key of another server: its public key (unpadded base64), the last moment it verifies
/// (<see cref="Expired"/> when the server listed it among its old keys), who told us (the server itself
/// or a notary) and when, and the signed answer that listed it, as received.
/// </summary>
public sealed record RemoteServerKey(string ServerName, string KeyId, string VerifyKey, long ValidUntilTs, bool Expired,
    string FromServer, long AddedTs, string KeyJson);

/// <summary>Other servers' verified signing keys, shared by every process (a key one process fetched, the others need not).</summary>
public sealed class RemoteServerKeyStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Stores keys in one transaction. A key already known stays as it is unless the new answer lets it
    /// verify for at least as long: an answer replayed from an old notary cache never shortens a key's life.
    /// </summary>
    public async Task SaveAsync(IReadOnlyCollection<RemoteServerKey> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0) return;
        await using var batch = dataSource.CreateBatch();
        foreach (var key in keys)
        {
            var command = new NpgsqlBatchCommand("""
                INSERT INTO remote_server_keys (server_name, key_id, verify_key, valid_until_ts, expired, from_server, added_ts, key_json)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (server_name, key_id) DO UPDATE SET
                    verify_key = excluded.verify_key, valid_until_ts = excluded.valid_until_ts, expired = excluded.expired,
                    from_server = excluded.from_server, added_ts = excluded.added_ts, key_json = excluded.key_json
                WHERE excluded.valid_until_ts >= remote_server_keys.valid_until_ts
                """);
            command.Parameters.Add(new() { Value = key.ServerName });
            command.Parameters.Add(new() { Value = key.KeyId });
            command.Parameters.Add(new() { Value = key.VerifyKey });
            command.Parameters.Add(new() { Value = key.ValidUntilTs });
            command.Parameters.Add(new() { Value = key.Expired });
            command.Parameters.Add(new() { Value = key.FromServer });
            command.Parameters.Add(new() { Value = key.AddedTs });
            command.Parameters.Add(new() { Value = key.KeyJson });
            batch.BatchCommands.Add(command);
        }
        // A batch is one implicit transaction: all keys of an answer are stored or none.
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The keys stored for <paramref name="serverName"/>: those named, or all when <paramref name="keyIds"/> is empty.</summary>
    public async Task<IReadOnlyList<RemoteServerKey>> GetAsync(string serverName, IReadOnlyCollection<string> keyIds, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT server_name, key_id, verify_key, valid_until_ts, expired, from_server, added_ts, key_json
            FROM remote_server_keys WHERE server_name = $1 AND (cardinality($2::text[]) = 0 OR key_id = ANY($2))
            ORDER BY key_id
            """);
        command.Parameters.Add(new() { Value = serverName });
        command.Parameters.Add(new() { Value = keyIds.ToArray() });
        var keys = new List<RemoteServerKey>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new RemoteServerKey(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                reader.GetBoolean(4), reader.GetString(5), reader.GetInt64(6), reader.GetString(7)));
        }
        return keys;
    }
}
