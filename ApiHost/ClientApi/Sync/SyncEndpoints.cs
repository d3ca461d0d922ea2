using Homeserver.Protocol;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Sync;
using Homeserver.Grains.Interfaces;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// /sync and filters. A sync token (<see cref="SyncToken"/>) holds each stream's safe position
/// (every writer has committed below it), so a row committed out of order by another writer can
/// never fall behind a token already handed out: incremental syncs neither skip nor repeat.
/// </summary>
public static class SyncEndpoints
{
    public static IEndpointRouteBuilder MapSyncApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/sync", SyncAsync).AllowGuests();
            app.MapPost($"/_matrix/client/{version}/user/{{userId}}/filter", CreateFilterAsync);
            app.MapGet($"/_matrix/client/{version}/user/{{userId}}/filter/{{filterId}}", GetFilterAsync);
        }
        return app;
    }

    private static async Task<IResult> SyncAsync(HttpContext http, AccessTokenAuthentication auth, SyncReader sync, StreamPositionReader positions,
        SyncNotifier notifier, SyncResponseBuilder builder, TypingCache typing, PresenceOnSync presence, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var query = http.Request.Query;
        SyncToken? since = query["since"].ToString() is { Length: > 0 } s ? SyncToken.Parse(s) : null;
        var timeout = SyncLongPoll.TimeoutFrom(query);
        var fullState = query["full_state"].ToString() == "true";
        var setPresence = query["set_presence"].ToString() is { Length: > 0 } p ? p : "online";
        if (!PresenceEndpoints.States.Contains(setPresence)) throw new MatrixException(400, "M_INVALID_PARAM", "'set_presence' must be online, unavailable or offline.");
        var filter = new SyncFilter(await ResolveFilterAsync(sync, user.UserId, query["filter"].ToString()));
        await presence.SyncedAsync(user.UserId, setPresence);

        var body = await SyncLongPoll.RunAsync(http, user.UserId, timeout, filter.UnseenStreams, notifier, positions, typing, clock, async upTo =>
        {
            var response = await builder.BuildAsync(user, since, upTo, filter, fullState);
            return new SyncLongPoll.Answer<JsonObject>(response.Body, since is null || fullState || response.HasChanges, response.JoinedRoomIds);
        });
        return body is null ? Results.Empty : Results.Json(body);
    }

    private static async Task<JsonObject?> ResolveFilterAsync(SyncReader sync, string userId, string filter)
    {
        if (filter.Length == 0) return null;
        if (filter.StartsWith('{'))
        {
            var inline = JsonBody.ParseParameter(filter, "filter") as JsonObject
                ?? throw new MatrixException(400, "M_INVALID_PARAM", "'filter' must be a JSON object.");
            FilterDefinition.Validate(inline);
            return inline;
        }
        if (!long.TryParse(filter, NumberStyles.None, CultureInfo.InvariantCulture, out var id)) throw new MatrixException(400, "M_INVALID_PARAM", "Unknown filter.");
        var json = await sync.GetFilterAsync(userId, id) ?? throw new MatrixException(400, "M_INVALID_PARAM", "Unknown filter.");
        return StoredJson.Parse(json) as JsonObject;
    }

    private static async Task<IResult> CreateFilterAsync(HttpContext http, string userId, AccessTokenAuthentication auth, SyncReader sync)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only create filters for yourself.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        FilterDefinition.Validate(body);
        var id = await sync.SaveFilterAsync(user.UserId, body.ToJsonString());
        return Results.Json(new { filter_id = id.ToString(CultureInfo.InvariantCulture) });
    }

    private static async Task<IResult> GetFilterAsync(HttpContext http, string userId, string filterId, AccessTokenAuthentication auth, SyncReader sync)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only read your own filters.");
        var json = long.TryParse(filterId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? await sync.GetFilterAsync(user.UserId, id) : null;
        return json is null ? throw MatrixException.NotFound("No such filter.") : Results.Text(json, "application/json");
    }
}
