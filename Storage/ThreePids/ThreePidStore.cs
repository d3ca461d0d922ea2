using Homeserver.Storage.Accounts;
using Npgsql;

namespace Homeserver.Storage.ThreePids;

/// <summary>A 3PID on an account, as GET /account/3pid lists it.</summary>
public sealed record UserThreePid(string Medium, string Address, long ValidatedAt, long AddedAt);

/// <summary>A validated session: who proved which address, and when.</summary>
public sealed record ValidatedThreePid(string Medium, string Address, long ValidatedAt);

/// <summary>What requestToken should do after the session was opened or continued.</summary>
/// <param name="PreviousSendAttempt">The attempt the session had before (null for a new session), to undo a failed send.</param>
/// <param name="MustSend">False when the send_attempt is not newer than the last: answer with the session, send nothing.</param>
public sealed record ValidationStart(string SessionId, bool MustSend, long? PreviousSendAttempt);

public enum TokenCheck
{
    Validated,
    AlreadyValidated,
    UnknownSession,
    WrongToken,
    Expired,
    TooManyAttempts,
}

/// <summary>The outcome of a submitted token, with the <c>next_link</c> to redirect to on success.</summary>
public sealed record TokenSubmission(TokenCheck Result, string? NextLink);

/// <summary>
/// 3PID validation sessions, the 3PIDs of accounts, and where users bound them. Every change that
/// touches more than one row runs in one transaction; validation tokens are kept as SHA-256 only.
/// </summary>
public sealed class ThreePidStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Opens the session for this medium, address and client secret, or continues the open one, and
    /// when <paramref name="sendAttempt"/> is newer than its last records it with the new token: the
    /// caller then sends the mail, and on failure calls <see cref="UndoSendAsync"/>. Sessions created
    /// before <paramref name="notBefore"/> are dropped on the way.
    /// </summary>
    public async Task<ValidationStart> StartOrContinueAsync(string medium, string address, string clientSecret, long sendAttempt,
        string newSessionId, string token, string? nextLink, long now, long tokenExpiresTs, long notBefore, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await new NpgsqlCommand("DELETE FROM threepid_validation_sessions WHERE created_ts < $1", connection, tx).With(notBefore)
            .ExecuteNonQueryAsync(cancellationToken);
        await new NpgsqlCommand("""
            INSERT INTO threepid_validation_sessions (session_id, medium, address, client_secret, last_send_attempt, created_ts)
            VALUES ($1, $2, $3, $4, -1, $5)
            ON CONFLICT (medium, address, client_secret) WHERE validated_at IS NULL DO NOTHING
            """, connection, tx).With(newSessionId, medium, address, clientSecret, now).ExecuteNonQueryAsync(cancellationToken);
        string sessionId;
        long last;
        await using (var select = new NpgsqlCommand("""
            SELECT session_id, last_send_attempt FROM threepid_validation_sessions
            WHERE medium = $1 AND address = $2 AND client_secret = $3 AND validated_at IS NULL
            FOR UPDATE
            """, connection, tx).With(medium, address, clientSecret))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (sessionId, last) = (reader.GetString(0), reader.GetInt64(1));
        }
        if (sendAttempt <= last)
        {
            await tx.CommitAsync(cancellationToken);
            return new ValidationStart(sessionId, MustSend: false, last);
        }
        await new NpgsqlCommand("UPDATE threepid_validation_sessions SET last_send_attempt = $2 WHERE session_id = $1", connection, tx)
            .With(sessionId, sendAttempt).ExecuteNonQueryAsync(cancellationToken);
        await new NpgsqlCommand("INSERT INTO threepid_validation_tokens (token_hash, session_id, expires_ts, next_link) VALUES ($1, $2, $3, $4)",
            connection, tx).With(AccountStore.HashToken(token), sessionId, tokenExpiresTs, nextLink).ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new ValidationStart(sessionId, MustSend: true, last < 0 ? null : last);
    }

    /// <summary>After the mail could not be sent: the token is void, and the same send_attempt may try again.</summary>
    public async Task UndoSendAsync(string sessionId, string token, long sendAttempt, long? previousSendAttempt, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await new NpgsqlCommand("DELETE FROM threepid_validation_tokens WHERE token_hash = $1", connection, tx)
            .With(AccountStore.HashToken(token)).ExecuteNonQueryAsync(cancellationToken);
        await new NpgsqlCommand("""
            UPDATE threepid_validation_sessions SET last_send_attempt = $3
            WHERE session_id = $1 AND last_send_attempt = $2
            """, connection, tx).With(sessionId, sendAttempt, previousSendAttempt ?? -1).ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Checks a submitted token. A wrong token given with the session's right client secret counts
    /// against the session; after <paramref name="maxFailures"/> the session accepts no token at all.
    /// </summary>
    public async Task<TokenSubmission> SubmitTokenAsync(string sessionId, string clientSecret, string token, long now, int maxFailures,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        string secret;
        bool validated;
        int failures;
        await using (var select = new NpgsqlCommand(
            "SELECT client_secret, validated_at IS NOT NULL, failed_attempts FROM threepid_validation_sessions WHERE session_id = $1 FOR UPDATE",
            connection, tx).With(sessionId))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken)) return new TokenSubmission(TokenCheck.UnknownSession, null);
            (secret, validated, failures) = (reader.GetString(0), reader.GetBoolean(1), reader.GetInt32(2));
        }
        if (secret != clientSecret) return new TokenSubmission(TokenCheck.UnknownSession, null);
        if (failures >= maxFailures) return new TokenSubmission(TokenCheck.TooManyAttempts, null);
        long expires;
        string? nextLink;
        await using (var select = new NpgsqlCommand(
            "SELECT expires_ts, next_link FROM threepid_validation_tokens WHERE token_hash = $1 AND session_id = $2", connection, tx)
            .With(AccountStore.HashToken(token), sessionId))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                await reader.CloseAsync();
                await new NpgsqlCommand("UPDATE threepid_validation_sessions SET failed_attempts = failed_attempts + 1 WHERE session_id = $1",
                    connection, tx).With(sessionId).ExecuteNonQueryAsync(cancellationToken);
                await tx.CommitAsync(cancellationToken);
                return new TokenSubmission(TokenCheck.WrongToken, null);
            }
            (expires, nextLink) = (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1));
        }
        if (validated) return new TokenSubmission(TokenCheck.AlreadyValidated, nextLink);
        if (expires <= now) return new TokenSubmission(TokenCheck.Expired, null);
        await new NpgsqlCommand("UPDATE threepid_validation_sessions SET validated_at = $2 WHERE session_id = $1", connection, tx)
            .With(sessionId, now).ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new TokenSubmission(TokenCheck.Validated, nextLink);
    }

    /// <summary>The validated session with this ID and client secret, or null.</summary>
    public async Task<ValidatedThreePid?> GetValidatedAsync(string sessionId, string clientSecret, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT medium, address, validated_at FROM threepid_validation_sessions
            WHERE session_id = $1 AND client_secret = $2 AND validated_at IS NOT NULL
            """).With(sessionId, clientSecret);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new ValidatedThreePid(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)) : null;
    }

    /// <summary>A validated session serves once: an auth stage that used it deletes it, as Synapse does.</summary>
    public async Task DeleteSessionAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM threepid_validation_sessions WHERE session_id = $1").With(sessionId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The account a 3PID belongs to, active or not.</summary>
    public async Task<string?> FindUserAsync(string medium, string address, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT user_id FROM user_threepids WHERE medium = $1 AND address = $2").With(medium, address);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<IReadOnlyList<UserThreePid>> GetUserThreePidsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT medium, address, validated_at, added_at FROM user_threepids WHERE user_id = $1 ORDER BY added_at, medium, address").With(userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<UserThreePid>();
        while (await reader.ReadAsync(cancellationToken)) list.Add(new UserThreePid(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
        return list;
    }

    /// <summary>
    /// Adds a 3PID to the account, and with <paramref name="consumedSessionId"/> deletes the session that
    /// proved it, in one transaction. False when the 3PID belongs to another account. Adding one the
    /// account already has keeps it, with the newer validation time.
    /// </summary>
    public async Task<bool> AddUserThreePidAsync(string userId, ValidatedThreePid threePid, long addedAt, string? consumedSessionId,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var owner = await new NpgsqlCommand("""
            INSERT INTO user_threepids (medium, address, user_id, validated_at, added_at) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (medium, address) DO UPDATE SET validated_at = EXCLUDED.validated_at WHERE user_threepids.user_id = EXCLUDED.user_id
            RETURNING user_id
            """, connection, tx).With(threePid.Medium, threePid.Address, userId, threePid.ValidatedAt, addedAt).ExecuteScalarAsync(cancellationToken);
        if (owner is null) return false;
        if (consumedSessionId is not null)
        {
            await new NpgsqlCommand("DELETE FROM threepid_validation_sessions WHERE session_id = $1", connection, tx)
                .With(consumedSessionId).ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Removes a 3PID from the account and the record of where it was bound; false when the account did not have it.</summary>
    public async Task<bool> DeleteUserThreePidAsync(string userId, string medium, string address, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var deleted = await new NpgsqlCommand("DELETE FROM user_threepids WHERE user_id = $1 AND medium = $2 AND address = $3", connection, tx)
            .With(userId, medium, address).ExecuteNonQueryAsync(cancellationToken);
        await new NpgsqlCommand("DELETE FROM user_threepid_id_servers WHERE user_id = $1 AND medium = $2 AND address = $3", connection, tx)
            .With(userId, medium, address).ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return deleted > 0;
    }

    public async Task AddBoundIdServerAsync(string userId, string medium, string address, string idServer, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO user_threepid_id_servers (user_id, medium, address, id_server) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
            """).With(userId, medium, address, idServer);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The 3PIDs the user bound at some identity server through this server, each once.</summary>
    public async Task<IReadOnlyList<(string Medium, string Address)>> GetBoundThreePidsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT DISTINCT medium, address FROM user_threepid_id_servers WHERE user_id = $1 ORDER BY medium, address").With(userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken)) list.Add((reader.GetString(0), reader.GetString(1)));
        return list;
    }

    public async Task<IReadOnlyList<string>> GetBoundIdServersAsync(string userId, string medium, string address, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT id_server FROM user_threepid_id_servers WHERE user_id = $1 AND medium = $2 AND address = $3 ORDER BY id_server").With(userId, medium, address);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<string>();
        while (await reader.ReadAsync(cancellationToken)) list.Add(reader.GetString(0));
        return list;
    }

    public async Task RemoveBoundIdServerAsync(string userId, string medium, string address, string idServer, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "DELETE FROM user_threepid_id_servers WHERE user_id = $1 AND medium = $2 AND address = $3 AND id_server = $4").With(userId, medium, address, idServer);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
