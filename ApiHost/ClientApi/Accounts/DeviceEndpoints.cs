using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.ThreePids;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.ThreePids;
using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

/// <summary>/devices, /delete_devices, /account/password and /account/deactivate (the last three behind the password stage, or a password reset behind the email stage).</summary>
public static class DeviceEndpoints
{
    public static IEndpointRouteBuilder MapDeviceApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}";
            app.MapGet($"{prefix}/devices", ListAsync).AllowGuests();
            app.MapGet($"{prefix}/devices/{{deviceId}}", GetAsync).AllowGuests();
            app.MapPut($"{prefix}/devices/{{deviceId}}", RenameAsync).AllowGuests();
            app.MapDelete($"{prefix}/devices/{{deviceId}}", DeleteOneAsync);
            app.MapPost($"{prefix}/delete_devices", DeleteManyAsync);
            app.MapPost($"{prefix}/account/password", ChangePasswordAsync);
            app.MapPost($"{prefix}/account/deactivate", DeactivateAsync);
        }
        return app;
    }

    private static JsonObject Format(DeviceRecord d) => new()
    {
        ["device_id"] = d.DeviceId,
        ["display_name"] = d.DisplayName,
        ["last_seen_ts"] = d.LastSeenTs,
        ["last_seen_ip"] = d.LastSeenIp,
    };

    private static async Task<IResult> ListAsync(HttpContext http, AccessTokenAuthentication auth, AccountStore accounts)
    {
        var user = await auth.RequireUserAsync(http);
        var devices = await accounts.GetDevicesAsync(user.UserId);
        return Results.Json(new JsonObject { ["devices"] = new JsonArray(devices.Select(d => (JsonNode)Format(d)).ToArray()) });
    }

    private static async Task<IResult> GetAsync(HttpContext http, string deviceId, AccessTokenAuthentication auth, AccountStore accounts)
    {
        var user = await auth.RequireUserAsync(http);
        var device = (await accounts.GetDevicesAsync(user.UserId)).FirstOrDefault(d => d.DeviceId == deviceId)
            ?? throw MatrixException.NotFound("No such device.");
        return Results.Json(Format(device));
    }

    private static async Task<IResult> RenameAsync(HttpContext http, string deviceId, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        if (!await grains.GetGrain<IUserGrain>(user.UserId).RenameDeviceAsync(deviceId, body.OptionalString("display_name"), http.RequestAborted))
        {
            throw MatrixException.NotFound("No such device.");
        }
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> DeleteOneAsync(HttpContext http, string deviceId, AccessTokenAuthentication auth,
        UserInteractiveAuth uia, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        await uia.RequireAsync(http, body, UserInteractiveAuth.PasswordStages, user.UserId);
        return await LogoutDevicesAsync(http, user.UserId, [deviceId], auth, grains);
    }

    private static async Task<IResult> DeleteManyAsync(HttpContext http, AccessTokenAuthentication auth, UserInteractiveAuth uia, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        // Checked before and after auth: a client may resend only "auth", and the session's remembered body is then used.
        if (body.ContainsKey("devices")) DeviceIds(body);
        var completed = await uia.RequireAsync(http, body, UserInteractiveAuth.PasswordStages, user.UserId);
        return await LogoutDevicesAsync(http, user.UserId, DeviceIds(completed.Body), auth, grains);
    }

    private static List<string> DeviceIds(JsonObject body) => body["devices"] is JsonArray list
        ? list.Select(d => d is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new MatrixException(400, "M_BAD_JSON", "'devices' must list device IDs.")).ToList()
        : throw new MatrixException(400, body.ContainsKey("devices") ? "M_BAD_JSON" : "M_MISSING_PARAM", "'devices' must be a list of device IDs.");

    private static async Task<IResult> LogoutDevicesAsync(HttpContext http, string userId, IReadOnlyList<string> deviceIds,
        AccessTokenAuthentication auth, IGrainFactory grains)
    {
        await grains.GetGrain<IUserGrain>(userId).LogoutAsync(deviceIds, http.RequestAborted);
        auth.ForgetTokensOf(userId);
        return Results.Json(new JsonObject());
    }

    /// <summary>
    /// With an access token, the user changes their password behind the password stage. Without one
    /// (a forgotten password), the email stage proves an address, and the account it belongs to gets the
    /// new password, as Synapse resets it; that needs the server to validate email itself.
    /// </summary>
    private static async Task<IResult> ChangePasswordAsync(HttpContext http, AccessTokenAuthentication auth, UserInteractiveAuth uia, ThreePidStore threePids,
        ProcessSettings settings, IGrainFactory grains)
    {
        var reset = AccessTokenAuthentication.TokenOf(http.Request) is null && settings.Email is not null;
        var user = reset ? null : await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        if (body.ContainsKey("new_password"))
        {
            var newPassword = body.RequiredString("new_password");
            if (newPassword.Length is 0 or > 512) throw new MatrixException(400, "M_INVALID_PARAM", "The new password must be 1 to 512 characters.");
        }
        _ = body.OptionalBool("logout_devices", true);
        var completed = user is not null
            ? await uia.RequireAsync(http, body, UserInteractiveAuth.PasswordStages, user.UserId, passwordField: "new_password")
            : await uia.RequireAsync(http, body, UserInteractiveAuth.EmailFlows, passwordField: "new_password");
        var hash = completed.PasswordHash ?? throw new MatrixException(400, "M_MISSING_PARAM", "'new_password' is missing.");
        var logoutDevices = completed.Body.OptionalBool("logout_devices", true);
        var userId = user?.UserId
            ?? (completed.ThreePid is { } proven ? await threePids.FindUserAsync(proven.Medium, proven.Address) : null)
            ?? throw MatrixException.NotFound("Email address not found.");
        await grains.GetGrain<IUserGrain>(userId).ChangePasswordAsync(hash, logoutDevices, user?.DeviceId, http.RequestAborted);
        auth.ForgetTokensOf(userId);
        return Results.Json(new JsonObject());
    }

    /// <summary>
    /// As Synapse deactivates: the 3PIDs the user bound are unbound at their identity servers (or at
    /// <c>id_server</c> when given) and the account's 3PIDs removed, then the account is deactivated.
    /// <c>id_server_unbind_result</c> is "success" only if every unbinding succeeded.
    /// </summary>
    private static async Task<IResult> DeactivateAsync(HttpContext http, AccessTokenAuthentication auth, UserInteractiveAuth uia, IGrainFactory grains,
        ThreePidBindings bindings, ThreePidStore threePids)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        // Checked before authentication, so a malformed request is refused without a round of UIA.
        _ = body.OptionalBool("erase", false);
        _ = IdServerOf(body);
        var completed = await uia.RequireAsync(http, body, UserInteractiveAuth.PasswordStages, user.UserId);
        var erase = completed.Body.OptionalBool("erase", false);
        var idServer = IdServerOf(completed.Body);
        var allUnbound = true;
        foreach (var (medium, address) in await threePids.GetBoundThreePidsAsync(user.UserId, http.RequestAborted))
        {
            allUnbound &= await bindings.TryUnbindAsync(user.UserId, medium, address, idServer, http.RequestAborted);
        }
        foreach (var threePid in await threePids.GetUserThreePidsAsync(user.UserId, http.RequestAborted))
        {
            await threePids.DeleteUserThreePidAsync(user.UserId, threePid.Medium, threePid.Address, http.RequestAborted);
        }
        await grains.GetGrain<IUserGrain>(user.UserId).DeactivateAsync(erase, http.RequestAborted);
        auth.ForgetTokensOf(user.UserId);
        return Results.Json(new JsonObject { ["id_server_unbind_result"] = allUnbound ? "success" : "no-support" });
    }

    private static string? IdServerOf(JsonObject body) =>
        body.OptionalString("id_server") is { } server ? ThreePidInput.IdServer(server) : null;
}
