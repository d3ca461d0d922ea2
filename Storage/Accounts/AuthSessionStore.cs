using Npgsql;

namespace Homeserver.Storage.Accounts;

/// <summary>User-interactive auth sessions and shared-secret registration nonces, shared by all API hosts.</summary>
public sealed class AuthSessionStore(NpgsqlDataSource dataSource)
{
    /// <summary>Starts a session for one operation and body, and clears sessions that expired before <paramref name="notBefore"/>.</summary>
    public async Task CreateSessionAsync(string sessionId, long now, long notBefore, string operation, string requestBody,
        CancellationToken cancellationToken = default)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new("DELETE FROM uia_sessions WHERE created_ts < $1") { Parameters = { new() { Value = notBefore } } });
        batch.BatchCommands.Add(new("INSERT INTO uia_sessions (session_id, created_ts, operation, request_body) VALUES ($1, $2, $3, $4)")
        {
            Parameters = { new() { Value = sessionId }, new() { Value = now }, new() { Value = operation }, new() { Value = requestBody } },
        });
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Null when the session does not exist or has expired.</summary>
    public async Task<UiaSession?> GetSessionAsync(string sessionId, long notBefore, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT completed, operation, request_body, authenticated_user, registered_user, password_hash, threepid_medium, threepid_address
            FROM uia_sessions WHERE session_id = $1 AND created_ts >= $2
            """);
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = notBefore });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new UiaSession(reader.GetFieldValue<string[]>(0), reader.GetString(1), reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.IsDBNull(6) ? null : new SessionThreePid(reader.GetString(6), reader.GetString(7)));
    }

    /// <summary>Records a completed stage, and for a password stage the user it proved.</summary>
    public async Task MarkCompletedAsync(string sessionId, string stage, string? authenticatedUser, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE uia_sessions
            SET completed = CASE WHEN $2 = ANY(completed) THEN completed ELSE array_append(completed, $2) END,
                authenticated_user = COALESCE($3, authenticated_user)
            WHERE session_id = $1
            """);
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = stage });
        command.Parameters.Add(new() { Value = (object?)authenticatedUser ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The session's body with the fields a later request added.</summary>
    public async Task UpdateRequestBodyAsync(string sessionId, string requestBody, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE uia_sessions SET request_body = $2 WHERE session_id = $1");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = requestBody });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task SetPasswordHashAsync(string sessionId, string passwordHash, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE uia_sessions SET password_hash = $2 WHERE session_id = $1 AND password_hash IS NULL");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = passwordHash });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The 3PID an <c>m.login.email.identity</c> stage proved.</summary>
    public async Task SetThreePidAsync(string sessionId, string medium, string address, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE uia_sessions SET threepid_medium = $2, threepid_address = $3 WHERE session_id = $1");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = medium });
        command.Parameters.Add(new() { Value = address });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task SetRegisteredUserAsync(string sessionId, string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE uia_sessions SET registered_user = $2 WHERE session_id = $1");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = userId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task StoreNonceAsync(string nonce, long now, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("INSERT INTO registration_nonces (nonce, created_ts) VALUES ($1, $2)");
        command.Parameters.Add(new() { Value = nonce });
        command.Parameters.Add(new() { Value = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Consumes a nonce: true only the first time, and only while it is fresh.</summary>
    public async Task<bool> ConsumeNonceAsync(string nonce, long notBefore, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM registration_nonces WHERE nonce = $1 AND created_ts >= $2");
        command.Parameters.Add(new() { Value = nonce });
        command.Parameters.Add(new() { Value = notBefore });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}

/// <summary>
/// One user-interactive auth session: the stages done, the operation (method and version-less path)
/// and canonical body it belongs to (its password left out), the user a password stage proved, the
/// user it registered, the hash of the body's password, and the 3PID an email stage proved.
/// </summary>
public sealed record UiaSession(IReadOnlyList<string> Completed, string Operation, string RequestBody, string? AuthenticatedUser,
    string? RegisteredUser, string? PasswordHash, SessionThreePid? ThreePid);

public sealed record SessionThreePid(string Medium, string Address);
