using Npgsql;

namespace Homeserver.Storage.Accounts;

/// <summary>User-interactive auth sessions and shared-secret registration nonces, shared by all API hosts.</summary>
public sealed class AuthSessionStore(NpgsqlDataSource dataSource)
{
    public async Task CreateSessionAsync(string sessionId, long now, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("INSERT INTO uia_sessions (session_id, created_ts) VALUES ($1, $2)");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Null when the session does not exist or has expired.</summary>
    public async Task<IReadOnlyList<string>?> GetCompletedAsync(string sessionId, long notBefore, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT completed FROM uia_sessions WHERE session_id = $1 AND created_ts >= $2");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = notBefore });
        return await command.ExecuteScalarAsync(cancellationToken) as string[];
    }

    public async Task MarkCompletedAsync(string sessionId, string stage, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE uia_sessions SET completed = array_append(completed, $2)
            WHERE session_id = $1 AND NOT ($2 = ANY(completed))
            """);
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = stage });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task DeleteSessionAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM uia_sessions WHERE session_id = $1");
        command.Parameters.Add(new() { Value = sessionId });
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
