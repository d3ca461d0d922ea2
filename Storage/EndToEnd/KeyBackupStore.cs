using Npgsql;

namespace Homeserver.Storage.EndToEnd;

public sealed record BackupVersion(long Version, string Algorithm, string AuthData, long Etag, int Count);

public sealed record BackedUpSession(string RoomId, string SessionId, int FirstMessageIndex, int ForwardedCount, bool IsVerified, string SessionData);

/// <summary>Server-side key backup (<c>/room_keys</c>): versions and their encrypted sessions.</summary>
public sealed class KeyBackupStore(NpgsqlDataSource dataSource)
{
    public async Task<long> CreateVersionAsync(string userId, string algorithm, string authData, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO room_key_backup_versions (user_id, version, algorithm, auth_data)
            SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM room_key_backup_versions WHERE user_id = $1
            RETURNING version
            """).With(userId, algorithm, authData);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The given version, or the newest undeleted one when <paramref name="version"/> is null.</summary>
    public async Task<BackupVersion?> GetVersionAsync(string userId, long? version, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT v.version, v.algorithm, v.auth_data, v.etag,
                   (SELECT count(*)::int FROM room_key_backup_keys k WHERE k.user_id = v.user_id AND k.version = v.version)
            FROM room_key_backup_versions v
            WHERE v.user_id = $1 AND NOT v.deleted AND ($2::bigint IS NULL OR v.version = $2)
            ORDER BY v.version DESC LIMIT 1
            """).With(userId, version);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new BackupVersion(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt32(4))
            : null;
    }

    public async Task<bool> UpdateAuthDataAsync(string userId, long version, string authData, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE room_key_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2 AND NOT deleted").With(userId, version, authData);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> DeleteVersionAsync(string userId, long version, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var mark = new NpgsqlCommand(
            "UPDATE room_key_backup_versions SET deleted = true WHERE user_id = $1 AND version = $2 AND NOT deleted", connection, tx).With(userId, version);
        var found = await mark.ExecuteNonQueryAsync(cancellationToken) > 0;
        await using var keys = new NpgsqlCommand("DELETE FROM room_key_backup_keys WHERE user_id = $1 AND version = $2", connection, tx).With(userId, version);
        await keys.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return found;
    }

    /// <summary>
    /// Stores sessions, keeping an existing one when it is better (verified over unverified, then the
    /// lower first message index, then fewer forwards), as the spec asks; bumps the etag when anything changed.
    /// </summary>
    public async Task<(long Etag, int Count)> PutSessionsAsync(string userId, long version, IReadOnlyList<BackedUpSession> sessions,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var changed = 0;
        foreach (var s in sessions)
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO room_key_backup_keys AS k (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
                    first_message_index = EXCLUDED.first_message_index, forwarded_count = EXCLUDED.forwarded_count,
                    is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data
                WHERE (EXCLUDED.is_verified AND NOT k.is_verified)
                   OR (EXCLUDED.is_verified = k.is_verified AND (EXCLUDED.first_message_index < k.first_message_index
                       OR (EXCLUDED.first_message_index = k.first_message_index AND EXCLUDED.forwarded_count < k.forwarded_count)))
                """, connection, tx).With(userId, version, s.RoomId, s.SessionId, s.FirstMessageIndex, s.ForwardedCount, s.IsVerified, s.SessionData);
            changed += await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var etag = new NpgsqlCommand(
            "UPDATE room_key_backup_versions SET etag = etag + $3 WHERE user_id = $1 AND version = $2", connection, tx).With(userId, version, changed > 0 ? 1L : 0L))
        {
            await etag.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        var current = await GetVersionAsync(userId, version, cancellationToken);
        return (current?.Etag ?? 0, current?.Count ?? 0);
    }

    public async Task<IReadOnlyList<BackedUpSession>> GetSessionsAsync(string userId, long version, string? roomId, string? sessionId,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data FROM room_key_backup_keys
            WHERE user_id = $1 AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4)
            """).With(userId, version, roomId, sessionId);
        var rows = new List<BackedUpSession>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new BackedUpSession(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetBoolean(4), reader.GetString(5)));
        }
        return rows;
    }

    public async Task<(long Etag, int Count)> DeleteSessionsAsync(string userId, long version, string? roomId, string? sessionId,
        CancellationToken cancellationToken = default)
    {
        await using (var command = dataSource.CreateCommand("""
            WITH gone AS (DELETE FROM room_key_backup_keys
                WHERE user_id = $1 AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4) RETURNING 1)
            UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2 AND EXISTS (SELECT 1 FROM gone)
            """).With(userId, version, roomId, sessionId))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        var current = await GetVersionAsync(userId, version, cancellationToken);
        return (current?.Etag ?? 0, current?.Count ?? 0);
    }
}
