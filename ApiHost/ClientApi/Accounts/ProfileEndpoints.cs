using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Federation;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

public static class ProfileEndpoints
{
    private static readonly HashSet<string> Fields = ["displayname", "avatar_url"];

    public static IEndpointRouteBuilder MapProfileApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var profile = $"/_matrix/client/{version}/profile/{{userId}}";
            app.MapGet(profile, GetProfileAsync);
            app.MapGet($"{profile}/{{field}}", GetFieldAsync);
            app.MapPut($"{profile}/{{field}}", SetFieldAsync);
            // Guests may set their display name and no other field (spec "Guest Access"); a literal segment
            // outranks {field}, so this route alone decides the display name.
            app.MapPut($"{profile}/displayname", (HttpContext h, string userId, AccessTokenAuthentication a, IGrainFactory g) =>
                SetFieldAsync(h, userId, "displayname", a, g)).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> GetProfileAsync(HttpContext http, string userId, AccountStore accounts, RoomReader rooms,
        ProcessSettings settings, RemoteServerQueries remote)
    {
        var target = RoomPaths.UserIdFrom(userId);
        if (RemoteServer(target, settings) is { } server) return Results.Json(await RemoteProfileAsync(remote, server, target, null, http.RequestAborted));
        var user = await RequireKnownUserAsync(target, accounts);
        var (displayName, avatarUrl) = await rooms.GetProfileAsync(user);
        var body = new JsonObject();
        if (displayName is not null) body["displayname"] = displayName;
        if (avatarUrl is not null) body["avatar_url"] = avatarUrl;
        return Results.Json(body);
    }

    private static async Task<IResult> GetFieldAsync(HttpContext http, string userId, string field, AccountStore accounts, RoomReader rooms,
        ProcessSettings settings, RemoteServerQueries remote)
    {
        if (!Fields.Contains(field)) throw MatrixException.NotFound($"Unknown profile field {field}.");
        var target = RoomPaths.UserIdFrom(userId);
        string? value;
        if (RemoteServer(target, settings) is { } server)
        {
            var profile = await RemoteProfileAsync(remote, server, target, field, http.RequestAborted);
            value = profile[field] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        }
        else
        {
            var user = await RequireKnownUserAsync(target, accounts);
            var (displayName, avatarUrl) = await rooms.GetProfileAsync(user);
            value = field == "displayname" ? displayName : avatarUrl;
        }
        if (value is null) throw MatrixException.NotFound($"{target} has no {field}.");
        return Results.Json(new JsonObject { [field] = value });
    }

    private static string? RemoteServer(string userId, ProcessSettings settings) =>
        UserId.Parse(userId).Server.ToString() is var server && server != settings.ServerName ? server : null;

    /// <summary>
    /// Another server's user, asked of their server (<c>/query/profile</c>). Its 404 and 403 reach the client
    /// as they came; any other answer but a profile is 502, as Synapse answers.
    /// </summary>
    private static async Task<JsonObject> RemoteProfileAsync(RemoteServerQueries remote, string server, string userId, string? field,
        CancellationToken cancellationToken)
    {
        var path = $"/_matrix/federation/v1/query/profile?user_id={Uri.EscapeDataString(userId)}" + (field is null ? "" : $"&field={field}");
        var response = await remote.SendAsync(new FederationRequest(HttpMethod.Get, server, path), "Failed to fetch profile", cancellationToken);
        return response.StatusCode switch
        {
            404 => throw new MatrixException(404, "M_NOT_FOUND", "Profile not found."),
            403 => throw RemoteServerQueries.Relayed(response, "The user's server refused to give their profile."),
            >= 400 => throw RemoteServerQueries.BadGateway("Failed to fetch profile"),
            _ => Profile(response.Body!.AsObject()),
        };
    }

    /// <summary>Only the profile fields, each a string: what another server adds or sends wrongly stops here.</summary>
    private static JsonObject Profile(JsonObject answer)
    {
        var profile = new JsonObject();
        foreach (var field in Fields)
        {
            if (answer[field] is JsonValue v && v.TryGetValue<string>(out var s)) profile[field] = s;
        }
        return profile;
    }

    private static async Task<IResult> SetFieldAsync(HttpContext http, string userId, string field, AccessTokenAuthentication auth,
        IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        if (!Fields.Contains(field)) throw new MatrixException(400, "M_INVALID_PARAM", $"Unknown profile field {field}.");
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only change your own profile.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var value = body.OptionalString(field);
        if (value is { Length: > 256 }) throw new MatrixException(400, "M_INVALID_PARAM", $"{field} is too long.");
        await grains.GetGrain<IUserGrain>(user.UserId).SetProfileFieldAsync(field, value, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<string> RequireKnownUserAsync(string user, AccountStore accounts) =>
        await accounts.UserExistsAsync(user) ? user : throw MatrixException.NotFound("Profile not found.");
}
