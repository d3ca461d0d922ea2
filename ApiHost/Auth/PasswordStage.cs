using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Storage.Accounts;

namespace Homeserver.ApiHost.Auth;

/// <summary>The <c>m.login.password</c> stage for a signed-in user: the password must be that user's own.</summary>
public sealed class PasswordStage(AccountStore accounts, PasswordHasher hasher, UserIdResolver users)
{
    public static readonly string[] Stages = ["m.login.password"];

    public Func<JsonObject, Task<bool>> For(string userId) => async auth =>
    {
        var named = auth.OptionalObject("identifier")?.OptionalString("user") ?? auth.OptionalString("user") ?? userId;
        if (users.ExistingLocalUser(named) != userId) return false;
        var password = auth.OptionalString("password");
        var account = await accounts.FindUserAsync(userId);
        return password is not null && account is not null && hasher.Verify(password, account.PasswordHash);
    };
}
