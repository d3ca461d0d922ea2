using System.Security.Cryptography;
using Npgsql;

namespace Homeserver.Storage.Accounts;

/// <summary>OpenID tokens: short-lived proofs of a user's identity for third parties (integration managers, widgets).</summary>
public sealed class OpenIdTokenStore(NpgsqlDataSource dataSource)
{
    /// <summary>A new token for the user, valid until <paramref name="expiresTs"/>; expired tokens are dropped on the way.</summary>
    public async Task<string> CreateAsync(string userId, long now, long expiresTs, CancellationToken cancellationToken = default)
    {
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await using var batch = dataSource.CreateBatch();
        var purge = new NpgsqlBatchCommand("DELETE FROM openid_tokens WHERE expires_ts < $1");
        purge.Parameters.Add(new() { Value = now });
        var insert = new NpgsqlBatchCommand("INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)");
        insert.Parameters.Add(new() { Value = AccountStore.HashToken(token) });
        insert.Parameters.Add(new() { Value = userId });
        insert.Parameters.Add(new() { Value = expiresTs });
        batch.BatchCommands.Add(purge);
        batch.BatchCommands.Add(insert);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return token;
    }

    /// <summary>The user a token belongs to, while it is valid and the account is active; null otherwise.</summary>
    public async Task<string?> FindUserAsync(string token, long now, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT o.user_id FROM openid_tokens o JOIN users u ON u.user_id = o.user_id
            WHERE o.token_hash = $1 AND o.expires_ts > $2 AND NOT u.deactivated
            """);
        command.Parameters.Add(new() { Value = AccountStore.HashToken(token) });
        command.Parameters.Add(new() { Value = now });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
