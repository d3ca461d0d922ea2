using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.ThreePids;
using Homeserver.ApiHost.ThreePids;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

public static class LoginEndpoints
{
    public static IEndpointRouteBuilder MapLoginApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/login", () => Results.Json(new { flows = new[] { new { type = "m.login.password" } } }));
            app.MapPost($"/_matrix/client/{version}/login", LoginAsync);
            app.MapPost($"/_matrix/client/{version}/logout", LogoutAsync);
            app.MapPost($"/_matrix/client/{version}/logout/all", LogoutAllAsync);
            app.MapGet($"/_matrix/client/{version}/account/whoami", WhoAmIAsync).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> LoginAsync(HttpContext http, ProcessSettings settings, RateLimiter limiter, UserIdResolver users,
        AccountStore accounts, ThreePidStore threePids, PasswordHasher hasher, IGrainFactory grains)
    {
        limiter.Acquire("login", http.Connection.RemoteIpAddress?.ToString() ?? "unknown", settings.RateLimits.LoginAddress);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var type = body.RequiredString("type");
        if (type != "m.login.password") throw new MatrixException(400, "M_UNKNOWN", $"Unknown login type {type}.");

        var identifier = body.OptionalObject("identifier");
        string typed;
        string? userId;
        if (identifier?.RequiredString("type") == "m.id.thirdparty" || (identifier is null && body.ContainsKey("medium")))
        {
            // A 3PID names the account whose it is (the deprecated top-level medium and address too, as Synapse accepts them).
            var source = identifier ?? body;
            var medium = ThreePidInput.Medium(source);
            typed = source.RequiredString("address");
            userId = medium == "email" && ThreePidInput.TryEmail(typed) is { } email ? await threePids.FindUserAsync(medium, email) : null;
        }
        else if (identifier is not null)
        {
            var idType = identifier.RequiredString("type");
            if (idType != "m.id.user") throw new MatrixException(400, "M_UNKNOWN", $"Unknown identifier type {idType}.");
            typed = identifier.RequiredString("user");
            userId = users.ExistingLocalUser(typed);
        }
        else
        {
            typed = body.RequiredString("user");
            userId = users.ExistingLocalUser(typed);
        }
        var password = body.RequiredString("password");
        // Refresh tokens are not issued (the spec lets a server decline), but the field must still be what the spec says.
        _ = body.OptionalBool("refresh_token", false);
        var account = userId is null ? null : await accounts.FindUserAsync(userId);
        if (account is not null) limiter.Acquire("login-account", account.UserId, settings.RateLimits.LoginAccount);
        if (account is null || !hasher.Verify(password, account.PasswordHash))
        {
            limiter.Acquire("login-failed", userId ?? typed, settings.RateLimits.LoginFailedAttempts);
            throw MatrixException.Forbidden("Invalid username or password.");
        }
        if (account.Deactivated) throw new MatrixException(403, "M_USER_DEACTIVATED", "This account has been deactivated.");

        var session = await grains.GetGrain<IUserGrain>(account.UserId).StartSessionAsync(
            new StartSessionCommand(body.OptionalString("device_id"), body.OptionalString("initial_device_display_name")), http.RequestAborted);
        var response = new JsonObject
        {
            ["user_id"] = session.UserId,
            ["access_token"] = session.AccessToken,
            ["device_id"] = session.DeviceId,
            ["home_server"] = settings.ServerName,
        };
        if (settings.PublicBaseUrl is { } baseUrl)
        {
            response["well_known"] = new JsonObject { ["m.homeserver"] = new JsonObject { ["base_url"] = baseUrl } };
        }
        return Results.Json(response);
    }

    private static async Task<IResult> LogoutAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        await grains.GetGrain<IUserGrain>(user.UserId).LogoutAsync([user.DeviceId], http.RequestAborted);
        auth.ForgetTokensOf(user.UserId);
        return Results.Json(new { });
    }

    private static async Task<IResult> LogoutAllAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        await grains.GetGrain<IUserGrain>(user.UserId).LogoutAsync(null, http.RequestAborted);
        auth.ForgetTokensOf(user.UserId);
        return Results.Json(new { });
    }

    private static async Task<IResult> WhoAmIAsync(HttpContext http, AccessTokenAuthentication auth)
    {
        var user = await auth.RequireUserAsync(http);
        return Results.Json(new { user_id = user.UserId, device_id = user.DeviceId, is_guest = user.IsGuest });
    }
}
