using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.ThreePids;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

public static class RegisterEndpoints
{
    private const int MaxPasswordLength = 512;

    public static IEndpointRouteBuilder MapRegisterApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapPost($"/_matrix/client/{version}/register", RegisterAsync);
            app.MapGet($"/_matrix/client/{version}/register/available", AvailableAsync);
        }
        return app;
    }

    private static async Task<IResult> RegisterAsync(HttpContext http, ProcessSettings settings, RateLimiter limiter,
        UserInteractiveAuth uia, UserIdResolver users, AccountStore accounts, AccessTokenAuthentication auth, ThreePidStore threePids, TimeProvider clock,
        IGrainFactory grains)
    {
        var kind = http.Request.Query["kind"] is [var given] ? given : "user";
        var isGuest = kind != "user";
        if (isGuest && (kind != "guest" || !settings.AllowGuestAccess))
        {
            throw new MatrixException(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled on this server.");
        }
        limiter.Acquire("register", http.Connection.RemoteIpAddress?.ToString() ?? "unknown", settings.RateLimits.Registration);
        // As in Synapse, guests need allow_guest_access only: enable_registration governs full accounts.
        if (isGuest) return await GuestRegistration.RegisterGuestAsync(http, settings, users, accounts, grains);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        if (!settings.EnableRegistration) throw MatrixException.Forbidden("Registration has been disabled.");

        // Like Synapse, check what is given before asking for authentication; an empty body (a client
        // asking which flows there are) gets the 401 with the flows.
        var givenPassword = body.OptionalString("password");
        if (givenPassword?.Length > MaxPasswordLength) throw new MatrixException(400, "M_INVALID_PARAM", "Password too long.");
        Validate(body);
        // Old clients send a display name alone to learn the flows, then the real request; as Synapse does,
        // such a name does not bind the session (the real request carries it again).
        if (givenPassword is null) body.Remove("initial_device_display_name");
        var guestTokenHash = GuestRegistration.HashGuestToken(body);
        var alreadyRegistered = await uia.RegisteredUserOfAsync(body);
        if (alreadyRegistered is null && body.OptionalString("username") is { } requested)
        {
            var wanted = users.NewLocalUser(requested.ToLowerInvariant());
            if (guestTokenHash is not null)
            {
                await GuestRegistration.RequireGuestAsync(accounts, guestTokenHash, wanted, http.RequestAborted);
            }
            else
            {
                RequireNonGuestLocalpart(requested);
                if (await accounts.UserExistsAsync(wanted)) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
            }
        }

        var completed = await uia.RequireAsync(http, body, UserInteractiveAuth.RegistrationFlows(settings), passwordField: "password");
        var parameters = completed.Body;
        var inhibitLogin = parameters.OptionalBool("inhibit_login", false);
        var deviceId = parameters.OptionalString("device_id");
        var deviceName = parameters.OptionalString("initial_device_display_name");
        string userId;
        string? accessToken = null, device = null;
        if (completed.RegisteredUser is { } registered)
        {
            // The session already registered its user: the same answer again, with a new login (Synapse does so).
            userId = registered;
            if (!inhibitLogin)
            {
                var login = await grains.GetGrain<IUserGrain>(userId).StartSessionAsync(new StartSessionCommand(deviceId, deviceName), http.RequestAborted);
                (accessToken, device) = (login.AccessToken, login.DeviceId);
            }
        }
        else if (GuestRegistration.GuestTokenHashOf(parameters) is { } tokenHash)
        {
            var hash = completed.PasswordHash ?? throw new MatrixException(400, "M_MISSING_PARAM", "'password' is missing.");
            var guestLocalpart = parameters.OptionalString("username")
                ?? throw new MatrixException(400, "M_MISSING_PARAM", "'username' must be the guest's localpart to upgrade the guest account.");
            userId = users.NewLocalUser(guestLocalpart.ToLowerInvariant());
            // Checked again now: the guest may have logged out, or been upgraded, since the session began.
            await GuestRegistration.RequireGuestAsync(accounts, tokenHash, userId, http.RequestAborted);
            var upgraded = await grains.GetGrain<IUserGrain>(userId).UpgradeGuestAsync(
                new UpgradeGuestCommand(hash, IssueSession: !inhibitLogin, deviceId, deviceName), http.RequestAborted);
            await uia.RecordRegistrationAsync(completed, userId);
            // This host's cache still holds the guest's tokens as a guest's; the others hear it on the caches stream.
            auth.ForgetTokensOf(userId);
            (accessToken, device) = (upgraded.AccessToken, upgraded.DeviceId);
        }
        else
        {
            var hash = completed.PasswordHash ?? throw new MatrixException(400, "M_MISSING_PARAM", "'password' is missing.");
            if (parameters.OptionalString("username") is { } chosen) RequireNonGuestLocalpart(chosen);
            userId = users.NewLocalUser(parameters.OptionalString("username")?.ToLowerInvariant() ?? RandomText.Letters(12).ToLowerInvariant());
            if (await accounts.UserExistsAsync(userId)) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
            if (completed.ThreePid is { } proven && await threePids.FindUserAsync(proven.Medium, proven.Address) is not null)
            {
                throw new MatrixException(400, "M_THREEPID_IN_USE", "Email is already in use.");
            }
            var registration = await grains.GetGrain<IUserGrain>(userId).RegisterAsync(
                new RegisterCommand(hash, IsAdmin: false, DisplayName: null, IssueSession: !inhibitLogin, deviceId, deviceName), http.RequestAborted);
            await uia.RecordRegistrationAsync(completed, registration.UserId);
            if (completed.ThreePid is { } threePid)
            {
                // The address the email stage proved becomes the account's, as Synapse binds it at registration.
                var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
                await threePids.AddUserThreePidAsync(registration.UserId, new ValidatedThreePid(threePid.Medium, threePid.Address, now), now, null);
            }
            (userId, accessToken, device) = (registration.UserId, registration.AccessToken, registration.DeviceId);
        }

        var response = new JsonObject { ["user_id"] = userId, ["home_server"] = settings.ServerName };
        if (!inhibitLogin)
        {
            response["access_token"] = accessToken;
            response["device_id"] = device;
        }
        return Results.Json(response);
    }

    private static void RequireNonGuestLocalpart(string username)
    {
        if (GuestRegistration.IsGuestLocalpart(username))
        {
            throw new MatrixException(400, "M_INVALID_USERNAME", "Numeric user IDs are reserved for guest users.");
        }
    }

    /// <summary>The types of the fields the spec defines, checked on every request of the session.</summary>
    private static void Validate(JsonObject body)
    {
        _ = body.OptionalString("username");
        _ = body.OptionalString("device_id");
        _ = body.OptionalString("initial_device_display_name");
        _ = body.OptionalBool("inhibit_login", false);
        _ = body.OptionalBool("refresh_token", false);
        _ = body.OptionalString("guest_access_token");
    }

    private static async Task<IResult> AvailableAsync(HttpContext http, UserIdResolver users, AccountStore accounts)
    {
        var username = http.Request.Query["username"].ToString();
        if (username.Length == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'username' is missing.");
        var userId = users.NewLocalUser(username);
        RequireNonGuestLocalpart(username);
        if (await accounts.UserExistsAsync(userId)) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        return Results.Json(new { available = true });
    }
}
