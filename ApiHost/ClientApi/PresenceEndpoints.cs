using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Presence;
using Homeserver.Storage.Presence;
using Homeserver.Storage.Sync;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>/presence/{userId}/status.</summary>
public static class PresenceEndpoints
{
    public static readonly IReadOnlySet<string> States = new HashSet<string>(StringComparer.Ordinal) { "online", "unavailable", "offline" };

    public static IEndpointRouteBuilder MapPresenceApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/presence/{{userId}}/status", GetAsync);
            app.MapPut($"/_matrix/client/{version}/presence/{{userId}}/status", SetAsync);
        }
        return app;
    }

    /// <summary>A presence row as clients see it: <c>last_active_ago</c> relative to now.</summary>
    public static JsonObject Format(PresenceRow row, long now)
    {
        var content = new JsonObject
        {
            ["presence"] = row.State,
            ["last_active_ago"] = Math.Max(0, now - row.LastActiveTs),
            ["currently_active"] = row.CurrentlyActive,
        };
        if (row.StatusMessage is not null) content["status_msg"] = row.StatusMessage;
        return content;
    }

    private static async Task<IResult> GetAsync(HttpContext http, string userId, AccessTokenAuthentication auth, PresenceStore presence,
        SyncReader sync, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var target = RoomPaths.UserIdFrom(userId);
        // As Synapse does: presence is visible to users who share a room.
        if (target != user.UserId && !(await sync.GetRoomPeersAsync(user.UserId)).Contains(target))
        {
            throw MatrixException.Forbidden("You do not share a room with this user.");
        }
        var row = await presence.GetAsync(target);
        return Results.Json(row is null ? new JsonObject { ["presence"] = "offline" } : Format(row, clock.GetUtcNow().ToUnixTimeMilliseconds()));
    }

    private static async Task<IResult> SetAsync(HttpContext http, string userId, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only set your own presence.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var state = body.RequiredString("presence");
        if (!States.Contains(state)) throw new MatrixException(400, "M_INVALID_PARAM", "'presence' must be online, unavailable or offline.");
        await grains.GetGrain<IPresenceGrain>(user.UserId).SetPresenceAsync(state, body.OptionalString("status_msg"), http.RequestAborted);
        return Results.Json(new JsonObject());
    }
}
