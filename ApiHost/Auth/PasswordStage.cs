using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Storage.Accounts;

namespace Homeserver.ApiHost.Auth;

/// <summary>The <c>m.login.password</c> stage: which local user, if any, the auth dict's password proves.</summary>
public sealed class PasswordStage(AccountStore accounts, PasswordHasher hasher, UserIdResolver users)
{
    /// <summary>The proven user ID, or null for a wrong password or unknown user. The user named defaults to <paramref name="requester"/>.</summary>
    public async Task<string?> VerifyAsync(JsonObject auth, string? requester)
    {
        var identifier = auth.OptionalObject("identifier");
        if (identifier?.OptionalString("type") is { } type && type != "m.id.user") return null;
        var named = identifier?.OptionalString("user") ?? auth.OptionalString("user") ?? requester;
        var userId = named is null ? null : users.ExistingLocalUser(named);
        var password = auth.OptionalString("password");
        if (userId is null || password is null) return null;
        var account = await accounts.FindUserAsync(userId);
        return account is not null && !account.Deactivated && hasher.Verify(password, account.PasswordHash) ? userId : null;
    }
}
