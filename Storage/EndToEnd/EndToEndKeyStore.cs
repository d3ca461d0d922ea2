using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.EndToEnd;

/// <summary>A one-time or fallback key as uploaded: <c>algorithm:key_id</c> and its JSON.</summary>
public sealed record UploadedKey(string Algorithm, string KeyId, string Json);

public sealed record DeviceKeyRow(string UserId, string DeviceId, string KeyJson, string? DisplayName);

public sealed record KeySignatureRow(string SignerUserId, string SigningKeyId, string TargetUserId, string TargetKeyId, string Signature);

/// <summary>
/// Device keys, one-time and fallback keys, cross-signing keys and signatures, and the
/// device_lists stream that tells other users when any of them changed. Written by the user's
/// end-to-end keys grain on a <c>device_lists</c> writer.
/// </summary>
public sealed class EndToEndKeyStore(NpgsqlDataSource dataSource)
{
    /// <summary>Stores what /keys/upload carried; returns the device_lists position when the device keys changed.</summary>
    public async Task<long?> UploadAsync(string userId, string deviceId, string? deviceKeysJson, IReadOnlyList<UploadedKey> oneTimeKeys,
        IReadOnlyList<UploadedKey> fallbackKeys, MultiWriterIdGenerator deviceLists, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        PositionLease? lease = null;
        try
        {
            if (deviceKeysJson is not null)
            {
                await using var current = new NpgsqlCommand("SELECT key_json FROM device_keys WHERE user_id = $1 AND device_id = $2", connection, tx)
                    .With(userId, deviceId);
                if (await current.ExecuteScalarAsync(cancellationToken) as string != deviceKeysJson)
                {
                    await using var upsert = new NpgsqlCommand("""
                        INSERT INTO device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)
                        ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = EXCLUDED.key_json
                        """, connection, tx).With(userId, deviceId, deviceKeysJson);
                    await upsert.ExecuteNonQueryAsync(cancellationToken);
                    lease = await deviceLists.AllocateAsync(connection, tx, cancellationToken);
                    await InsertChangeAsync(connection, tx, lease.Position, userId, cancellationToken);
                }
            }
            foreach (var key in oneTimeKeys)
            {
                // A key ID already stored keeps its first value, as the spec asks of re-uploads.
                await using var insert = new NpgsqlCommand("""
                    INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, key_json) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT DO NOTHING
                    """, connection, tx).With(userId, deviceId, key.Algorithm, key.KeyId, key.Json);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            foreach (var key in fallbackKeys)
            {
                await using var upsert = new NpgsqlCommand("""
                    INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES ($1, $2, $3, $4, $5, false)
                    ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json, used = false
                    """, connection, tx).With(userId, deviceId, key.Algorithm, key.KeyId, key.Json);
                await upsert.ExecuteNonQueryAsync(cancellationToken);
            }
            await tx.CommitAsync(cancellationToken);
            return lease?.Position;
        }
        finally
        {
            lease?.Dispose();
        }
    }

    /// <summary>Unclaimed one-time keys of a device, per algorithm.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountOneTimeKeysAsync(string userId, string deviceId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT algorithm, count(*)::int FROM one_time_keys WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm").With(userId, deviceId);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) counts[reader.GetString(0)] = reader.GetInt32(1);
        return counts;
    }

    /// <summary>What every /sync reports about the device's keys, in one round trip: one-time key counts and unused fallback key types.</summary>
    public async Task<(IReadOnlyDictionary<string, int> OneTimeKeyCounts, IReadOnlyList<string> UnusedFallbackKeyTypes)> GetSyncKeyStateAsync(
        string userId, string deviceId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT algorithm, count(*)::int, false FROM one_time_keys WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm
            UNION ALL
            SELECT algorithm, 0, true FROM fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used
            """).With(userId, deviceId);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var fallbacks = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.GetBoolean(2)) fallbacks.Add(reader.GetString(0));
            else counts[reader.GetString(0)] = reader.GetInt32(1);
        }
        fallbacks.Sort(StringComparer.Ordinal);
        return (counts, fallbacks);
    }

    /// <summary>Takes one key of <paramref name="algorithm"/> for the device: a one-time key (deleted), else its fallback key (marked used).</summary>
    public async Task<(string KeyId, string Json)?> ClaimAsync(string userId, string deviceId, string algorithm, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var claim = new NpgsqlCommand("""
            DELETE FROM one_time_keys WHERE (user_id, device_id, algorithm, key_id) = (
                SELECT user_id, device_id, algorithm, key_id FROM one_time_keys
                WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING key_id, key_json
            """, connection).With(userId, deviceId, algorithm))
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken)) return (reader.GetString(0), reader.GetString(1));
        }
        await using var fallback = new NpgsqlCommand("""
            UPDATE fallback_keys SET used = true WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json
            """, connection).With(userId, deviceId, algorithm);
        await using var fallbackReader = await fallback.ExecuteReaderAsync(cancellationToken);
        return await fallbackReader.ReadAsync(cancellationToken) ? (fallbackReader.GetString(0), fallbackReader.GetString(1)) : null;
    }

    /// <summary>Device keys of the given users' devices (display names from the devices table).</summary>
    public async Task<IReadOnlyList<DeviceKeyRow>> GetDeviceKeysAsync(IReadOnlyList<string> userIds, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT k.user_id, k.device_id, k.key_json, d.display_name FROM device_keys k
            JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
            WHERE k.user_id = ANY($1)
            """).With((object)userIds.ToArray());
        var rows = new List<DeviceKeyRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new DeviceKeyRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }
        return rows;
    }

    public async Task<IReadOnlyList<(string UserId, string KeyType, string Json)>> GetCrossSigningKeysAsync(IReadOnlyList<string> userIds,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT user_id, key_type, key_json FROM cross_signing_keys WHERE user_id = ANY($1)")
            .With((object)userIds.ToArray());
        var rows = new List<(string, string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return rows;
    }

    /// <summary>Replaces the given cross-signing keys of a user and records a device-list change.</summary>
    public Task<long> SetCrossSigningKeysAsync(string userId, IReadOnlyDictionary<string, string> keysByType, MultiWriterIdGenerator deviceLists,
        CancellationToken cancellationToken = default) =>
        deviceLists.WriteAsync(dataSource, async (connection, tx, position) =>
        {
            foreach (var (type, json) in keysByType)
            {
                await using var upsert = new NpgsqlCommand("""
                    INSERT INTO cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
                    ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = EXCLUDED.key_json
                    """, connection, tx).With(userId, type, json);
                await upsert.ExecuteNonQueryAsync(cancellationToken);
            }
            if (keysByType.ContainsKey("master"))
            {
                // A new master key voids every signature made by or on the old identity.
                await using var clear = new NpgsqlCommand(
                    "DELETE FROM key_signatures WHERE signer_user_id = $1 OR target_user_id = $1", connection, tx).With(userId);
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }
            await InsertChangeAsync(connection, tx, position, userId, cancellationToken);
        }, cancellationToken);

    /// <summary>Stores verified signatures and records a device-list change for every user whose keys gained one.</summary>
    public Task<long> AddSignaturesAsync(IReadOnlyList<KeySignatureRow> signatures, MultiWriterIdGenerator deviceLists,
        CancellationToken cancellationToken = default) =>
        deviceLists.WriteAsync(dataSource, async (connection, tx, position) =>
        {
            foreach (var s in signatures)
            {
                await using var upsert = new NpgsqlCommand("""
                    INSERT INTO key_signatures (signer_user_id, signing_key_id, target_user_id, target_key_id, signature) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (signer_user_id, signing_key_id, target_user_id, target_key_id) DO UPDATE SET signature = EXCLUDED.signature
                    """, connection, tx).With(s.SignerUserId, s.SigningKeyId, s.TargetUserId, s.TargetKeyId, s.Signature);
                await upsert.ExecuteNonQueryAsync(cancellationToken);
            }
            // One stream position per write: every user it touched changes at that position.
            foreach (var user in signatures.Select(s => s.TargetUserId).Distinct(StringComparer.Ordinal))
            {
                await InsertChangeAsync(connection, tx, position, user, cancellationToken);
            }
        }, cancellationToken);

    /// <summary>Signatures on the given users' keys that <paramref name="viewerUserId"/> may see: the owner's own and the viewer's.</summary>
    public async Task<IReadOnlyList<KeySignatureRow>> GetSignaturesAsync(IReadOnlyList<string> targetUserIds, string viewerUserId,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT signer_user_id, signing_key_id, target_user_id, target_key_id, signature FROM key_signatures
            WHERE target_user_id = ANY($1) AND (signer_user_id = target_user_id OR signer_user_id = $2)
            """).With(targetUserIds.ToArray(), viewerUserId);
        var rows = new List<KeySignatureRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new KeySignatureRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }
        return rows;
    }

    /// <summary>Removes deleted devices' keys and pending messages, and records the device-list change.</summary>
    public Task<long> DeleteDevicesAsync(string userId, IReadOnlyList<string>? deviceIds, MultiWriterIdGenerator deviceLists,
        CancellationToken cancellationToken = default) =>
        deviceLists.WriteAsync(dataSource, async (connection, tx, position) =>
        {
            foreach (var table in new[] { "device_keys", "one_time_keys", "fallback_keys", "to_device_messages" })
            {
                await using var delete = deviceIds is null
                    ? new NpgsqlCommand($"DELETE FROM {table} WHERE user_id = $1", connection, tx).With(userId)
                    : new NpgsqlCommand($"DELETE FROM {table} WHERE user_id = $1 AND device_id = ANY($2)", connection, tx).With(userId, deviceIds.ToArray());
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }
            await InsertChangeAsync(connection, tx, position, userId, cancellationToken);
        }, cancellationToken);

    /// <summary>Records that a user's device list changed (a device was added, for instance).</summary>
    public Task<long> RecordChangeAsync(string userId, MultiWriterIdGenerator deviceLists, CancellationToken cancellationToken = default) =>
        deviceLists.WriteAsync(dataSource, (connection, tx, position) => InsertChangeAsync(connection, tx, position, userId, cancellationToken),
            cancellationToken);

    /// <summary>
    /// The device_lists position of the user's latest change (0 if none): the <c>stream_id</c> other servers
    /// get with the user's devices, which grows with every change to them.
    /// </summary>
    public async Task<long> GetLatestChangeAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT COALESCE(MAX(stream_id), 0) FROM device_list_changes WHERE user_id = $1").With(userId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Which of <paramref name="userIds"/> had a device-list change in (after, upTo].</summary>
    public async Task<IReadOnlyList<string>> GetChangedUsersAsync(IReadOnlyCollection<string> userIds, long after, long upTo,
        CancellationToken cancellationToken = default)
    {
        if (userIds.Count == 0 || upTo <= after) return [];
        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT user_id FROM device_list_changes WHERE user_id = ANY($1) AND stream_id > $2 AND stream_id <= $3
            """).With(userIds.ToArray(), after, upTo);
        return await ReadStringsAsync(command, cancellationToken);
    }

    private static async Task InsertChangeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long position, string userId,
        CancellationToken cancellationToken)
    {
        await using var change = new NpgsqlCommand("INSERT INTO device_list_changes (stream_id, user_id) VALUES ($1, $2)", connection, tx)
            .With(position, userId);
        await change.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static async Task<IReadOnlyList<string>> ReadStringsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) values.Add(reader.GetString(0));
        return values;
    }
}
