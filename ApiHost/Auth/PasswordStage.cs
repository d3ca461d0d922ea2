using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.ThreePids;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.ThreePids;

namespace Homeserver.ApiHost.Auth;

/// <summary>The <c>m.login.password</c> stage: which local user, if any, the auth dict's password proves.</summary>
public sealed class PasswordStage(AccountStore accounts, ThreePidStore threePids, PasswordHasher hasher, UserIdResolver users)
{
    /// <summary>
    /// The proven user ID, or null for a wrong password or unknown user. The user named (by user ID or
    /// by an email address of theirs) defaults to <paramref name="requester"/>.
    /// </summary>
    public async Task<string?> VerifyAsync(JsonObject auth, string? requester)
    {
        var identifier = auth.OptionalObject("identifier");
        string? userId;
        if (identifier?.OptionalString("type") == "m.id.thirdparty")
        {
            userId = identifier.OptionalString("medium") == "email" && ThreePidInput.TryEmail(identifier.OptionalString("address") ?? "") is { } email
                ? await threePids.FindUserAsync("email", email)
                : null;
        }
        else
        {
            if (identifier?.OptionalString("type") is { } type && type != "m.id.user") return null;
            var named = identifier?.OptionalString("user") ?? auth.OptionalString("user") ?? requester;
            userId = named is null ? null : users.ExistingLocalUser(named);
        }
        var password = auth.OptionalString("password");
        if (userId is null || password is null) return null;
        var account = await accounts.FindUserAsync(userId);
        return account is not null && !account.Deactivated && hasher.Verify(password, account.PasswordHash) ? userId : null;
    }
}
