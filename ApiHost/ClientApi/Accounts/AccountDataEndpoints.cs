using Homeserver.Protocol;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Storage.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

/// <summary>Global and per-room account data, and room tags (stored as the m.tag room account data, as Synapse does).</summary>
public static class AccountDataEndpoints
{
    public static IEndpointRouteBuilder MapAccountDataApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var user = $"/_matrix/client/{version}/user/{{userId}}";
            app.MapGet($"{user}/account_data/{{type}}", (HttpContext h, string userId, string type, AccessTokenAuthentication a, AccountDataStore s) =>
                GetAsync(h, userId, null, type, a, s));
            app.MapPut($"{user}/account_data/{{type}}", (HttpContext h, string userId, string type, AccessTokenAuthentication a, IGrainFactory g) =>
                PutAsync(h, userId, null, type, a, g));
            app.MapGet($"{user}/rooms/{{roomId}}/account_data/{{type}}", (HttpContext h, string userId, string roomId, string type, AccessTokenAuthentication a, AccountDataStore s) =>
                GetAsync(h, userId, RoomPaths.RoomIdFrom(roomId), type, a, s));
            app.MapPut($"{user}/rooms/{{roomId}}/account_data/{{type}}", (HttpContext h, string userId, string roomId, string type, AccessTokenAuthentication a, IGrainFactory g) =>
                PutAsync(h, userId, RoomPaths.RoomIdFrom(roomId), type, a, g));
            app.MapGet($"{user}/rooms/{{roomId}}/tags", TagsAsync);
            app.MapPut($"{user}/rooms/{{roomId}}/tags/{{tag}}", (HttpContext h, string userId, string roomId, string tag, AccessTokenAuthentication a, IGrainFactory g) =>
                ChangeTagAsync(h, userId, roomId, tag, add: true, a, g));
            app.MapDelete($"{user}/rooms/{{roomId}}/tags/{{tag}}", (HttpContext h, string userId, string roomId, string tag, AccessTokenAuthentication a, IGrainFactory g) =>
                ChangeTagAsync(h, userId, roomId, tag, add: false, a, g));
        }
        return app;
    }

    private static async Task<string> RequireSelfAsync(HttpContext http, string userId, AccessTokenAuthentication auth)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only access your own account data.");
        return user.UserId;
    }

    private static async Task<IResult> GetAsync(HttpContext http, string userId, string? roomId, string type, AccessTokenAuthentication auth,
        AccountDataStore store)
    {
        var user = await RequireSelfAsync(http, userId, auth);
        var json = await store.GetAsync(user, roomId, type) ?? throw MatrixException.NotFound($"No account data of type {type}.");
        return Results.Text(json, "application/json");
    }

    private static async Task<IResult> PutAsync(HttpContext http, string userId, string? roomId, string type, AccessTokenAuthentication auth,
        IGrainFactory grains)
    {
        var user = await RequireSelfAsync(http, userId, auth);
        if (type is "m.fully_read" or "m.push_rules")
        {
            throw new MatrixException(405, "M_BAD_JSON", $"{type} is set through its own endpoint.");
        }
        var content = await JsonBody.ReadObjectAsync(http.Request);
        await grains.GetGrain<IUserGrain>(user).SetAccountDataAsync(roomId, type, content, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> TagsAsync(HttpContext http, string userId, string roomId, AccessTokenAuthentication auth, AccountDataStore store)
    {
        var user = await RequireSelfAsync(http, userId, auth);
        var json = await store.GetAsync(user, RoomPaths.RoomIdFrom(roomId), "m.tag");
        return Results.Json(json is null ? new JsonObject { ["tags"] = new JsonObject() } : StoredJson.Parse(json));
    }

    private static async Task<IResult> ChangeTagAsync(HttpContext http, string userId, string roomId, string tag, bool add,
        AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await RequireSelfAsync(http, userId, auth);
        var room = RoomPaths.RoomIdFrom(roomId);
        if (tag.Length is 0 or > 255) throw new MatrixException(400, "M_INVALID_PARAM", "A tag is 1 to 255 characters.");
        var body = add ? await JsonBody.ReadObjectAsync(http.Request) : null;
        // Spec: "order" is a number in [0, 1]; clients sort by it, so anything else would break their room lists.
        if (body?["order"] is { } order && (order is not JsonValue v || !v.TryGetValue<double>(out var position) || position is < 0 or > 1))
        {
            throw MatrixException.BadJson("A tag's 'order' must be a number from 0 to 1.");
        }
        await grains.GetGrain<IUserGrain>(user).ChangeTagAsync(room, tag, body, http.RequestAborted);
        return Results.Json(new JsonObject());
    }
}
