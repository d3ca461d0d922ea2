using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Accounts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

public static class RegisterEndpoints
{
    private const int MaxPasswordLength = 512;
    private static readonly string[] Stages = ["m.login.dummy"];

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
        UserInteractiveAuth uia, UserIdResolver users, AccountStore accounts, PasswordHasher hasher, IGrainFactory grains)
    {
        if (http.Request.Query["kind"] is [var kind] && kind != "user")
        {
            throw new MatrixException(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled on this server.");
        }
        limiter.Acquire("register", http.Connection.RemoteIpAddress?.ToString() ?? "unknown", settings.RateLimits.Registration);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        if (!settings.EnableRegistration) throw MatrixException.Forbidden("Registration has been disabled.");

        // Like Synapse, check the username and password that are given before asking for authentication; an
        // empty body (a client asking which flows there are) gets the 401 with the flows.
        var userId = users.NewLocalUser(body.OptionalString("username")?.ToLowerInvariant() ?? RandomText.Letters(12).ToLowerInvariant());
        if (await accounts.UserExistsAsync(userId)) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        var givenPassword = body.OptionalString("password");
        if (givenPassword?.Length > MaxPasswordLength) throw new MatrixException(400, "M_INVALID_PARAM", "Password too long.");
        var deviceId = body.OptionalString("device_id");
        var deviceName = body.OptionalString("initial_device_display_name");
        var inhibitLogin = body.OptionalBool("inhibit_login", false);
        _ = body.OptionalBool("refresh_token", false);

        var session = await uia.RequireAsync(body, Stages);
        var password = givenPassword ?? throw new MatrixException(400, "M_MISSING_PARAM", "'password' is missing.");
        var registration = await grains.GetGrain<IUserGrain>(userId).RegisterAsync(
            new RegisterCommand(hasher.Hash(password), IsAdmin: false, DisplayName: null, IssueSession: !inhibitLogin, deviceId, deviceName), http.RequestAborted);
        await uia.FinishAsync(session);

        var response = new JsonObject { ["user_id"] = registration.UserId, ["home_server"] = settings.ServerName };
        if (!inhibitLogin)
        {
            response["access_token"] = registration.AccessToken;
            response["device_id"] = registration.DeviceId;
        }
        return Results.Json(response);
    }

    private static async Task<IResult> AvailableAsync(HttpContext http, UserIdResolver users, AccountStore accounts)
    {
        var username = http.Request.Query["username"].ToString();
        if (username.Length == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'username' is missing.");
        var userId = users.NewLocalUser(username);
        if (await accounts.UserExistsAsync(userId)) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        return Results.Json(new { available = true });
    }
}
