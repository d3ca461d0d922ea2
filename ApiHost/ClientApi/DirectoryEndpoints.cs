using Homeserver.Protocol;
using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Orleans;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>Room aliases, the room directory visibility and /publicRooms.</summary>
public static class DirectoryEndpoints
{
    private const int MaxPublicRoomsLimit = 500;

    public static IEndpointRouteBuilder MapDirectoryApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}";
            app.MapPut($"{prefix}/directory/room/{{alias}}", CreateAliasAsync);
            app.MapGet($"{prefix}/directory/room/{{alias}}", ResolveAliasAsync);
            app.MapDelete($"{prefix}/directory/room/{{alias}}", DeleteAliasAsync);
            app.MapGet($"{prefix}/rooms/{{roomId}}/aliases", ListAliasesAsync);
            app.MapGet($"{prefix}/directory/list/room/{{roomId}}", GetVisibilityAsync);
            app.MapPut($"{prefix}/directory/list/room/{{roomId}}", SetVisibilityAsync);
            app.MapGet($"{prefix}/publicRooms", (HttpContext h, DirectoryStore d) => PublicRoomsAsync(h, d, null));
            app.MapPost($"{prefix}/publicRooms", async (HttpContext h, AccessTokenAuthentication a, DirectoryStore d) =>
            {
                await a.RequireUserAsync(h);
                return await PublicRoomsAsync(h, d, await JsonBody.ReadObjectAsync(h.Request, allowEmpty: true));
            }).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> CreateAliasAsync(HttpContext http, string alias, AccessTokenAuthentication auth, RoomAliases aliases,
        RoomReader rooms, DirectoryStore directory, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var name = aliases.LocalAlias(alias);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var roomId = RoomPaths.RoomIdFrom(body.RequiredString("room_id"));
        if (await rooms.GetMembershipAsync(roomId, user.UserId) != "join")
        {
            if (await rooms.GetRoomVersionAsync(roomId) is null) throw MatrixException.NotFound("Unknown room.");
            throw MatrixException.Forbidden("You must be joined to the room to give it an alias.");
        }
        if (!await directory.CreateAliasAsync(name, roomId, user.UserId, clock.GetUtcNow().ToUnixTimeMilliseconds()))
        {
            throw new MatrixException(409, "M_UNKNOWN", $"Room alias {name} already exists.");
        }
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> ResolveAliasAsync(string alias, RoomAliases aliases, DirectoryStore directory, ProcessSettings settings)
    {
        var record = await directory.FindAliasAsync(aliases.LocalAlias(alias)) ?? throw MatrixException.NotFound($"Room alias {alias} not found.");
        return Results.Json(new { room_id = record.RoomId, servers = new[] { settings.ServerName } });
    }

    private static async Task<IResult> DeleteAliasAsync(HttpContext http, string alias, AccessTokenAuthentication auth, RoomAliases aliases,
        DirectoryStore directory, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var record = await directory.FindAliasAsync(aliases.LocalAlias(alias)) ?? throw MatrixException.NotFound($"Room alias {alias} not found.");
        if (record.Creator != user.UserId)
        {
            var power = await aliases.PowerLevelsAsync(record.RoomId);
            if (power.UserLevel(user.UserId) < power.RequiredFor("m.room.canonical_alias", isState: true))
            {
                throw MatrixException.Forbidden("Only the alias's creator or a room moderator can delete it.");
            }
        }
        await directory.DeleteAliasAsync(record.Alias);
        await aliases.RemoveFromCanonicalAliasAsync(record.RoomId, record.Alias, user.UserId, grains, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    /// <summary>For members and, in a world-readable room, anyone (spec: 403 otherwise).</summary>
    private static async Task<IResult> ListAliasesAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, HistoryVisibility history,
        DirectoryStore directory)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        await history.StateBoundaryAsync(room, user.UserId, joinedOnly: true);
        return Results.Json(new { aliases = await directory.GetAliasesAsync(room) });
    }

    private static async Task<IResult> GetVisibilityAsync(string roomId, RoomReader rooms, DirectoryStore directory)
    {
        var room = RoomPaths.RoomIdFrom(roomId);
        if (await rooms.GetRoomVersionAsync(room) is null) throw MatrixException.NotFound("Unknown room.");
        return Results.Json(new { visibility = await directory.IsPublishedAsync(room) ? "public" : "private" });
    }

    private static async Task<IResult> SetVisibilityAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomAliases aliases,
        RoomReader rooms, DirectoryStore directory, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var visibility = body.OptionalString("visibility") ?? "public";
        if (visibility is not ("public" or "private")) throw new MatrixException(400, "M_INVALID_PARAM", "'visibility' must be public or private.");
        await EventEndpoints.RequireJoinedAsync(rooms, room, user.UserId);
        var power = await aliases.PowerLevelsAsync(room);
        if (power.UserLevel(user.UserId) < power.RequiredFor("m.room.canonical_alias", isState: true))
        {
            throw MatrixException.Forbidden("Publishing a room needs the power to set its canonical alias.");
        }
        await directory.SetPublishedAsync(room, visibility == "public", clock.GetUtcNow().ToUnixTimeMilliseconds());
        return Results.Json(new JsonObject());
    }

    /// <summary>The published rooms, filtered by a search term, paged with <c>o&lt;offset&gt;</c> tokens.</summary>
    private static async Task<IResult> PublicRoomsAsync(HttpContext http, DirectoryStore directory, JsonObject? body)
    {
        var query = http.Request.Query;
        var limitText = body?["limit"]?.ToJsonString() ?? query["limit"].ToString();
        var since = body?.OptionalString("since") ?? (query["since"].ToString() is { Length: > 0 } s ? s : null);
        var term = (body?.OptionalObject("filter")?.OptionalString("generic_search_term") ?? "").Trim();
        var limit = MaxPublicRoomsLimit;
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit < 0))
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "'limit' must be a non-negative integer.");
        }
        limit = Math.Min(limit, MaxPublicRoomsLimit);
        var offset = 0;
        if (since is not null && (!since.StartsWith('o') || !int.TryParse(since.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out offset)))
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "'since' is not a token of this server.");
        }

        var all = (await directory.GetPublicRoomsAsync()).Select(Describe)
            .Where(r => term.Length == 0 || Matches(r, term)).ToList();
        var page = all.Skip(offset).Take(limit).ToList();
        var response = new JsonObject
        {
            ["chunk"] = new JsonArray(page.Select(r => (JsonNode)r).ToArray()),
            ["total_room_count_estimate"] = all.Count,
        };
        if (offset + page.Count < all.Count) response["next_batch"] = $"o{offset + page.Count}";
        if (offset > 0) response["prev_batch"] = $"o{Math.Max(0, offset - limit)}";
        return Results.Json(response);
    }

    private static JsonObject Describe(PublicRoomRow row)
    {
        var chunk = new JsonObject { ["room_id"] = row.RoomId, ["num_joined_members"] = row.JoinedMembers };
        var state = row.StateJsonArray is null ? [] : StoredJson.Parse(row.StateJsonArray)!.AsArray();
        string? Field(string type, string key) =>
            state.FirstOrDefault(e => e?["type"]?.GetValue<string>() == type)?["content"]?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (Field("m.room.name", "name") is { } name) chunk["name"] = name;
        if (Field("m.room.topic", "topic") is { } topic) chunk["topic"] = topic;
        if (Field("m.room.canonical_alias", "alias") is { } alias) chunk["canonical_alias"] = alias;
        if (Field("m.room.avatar", "url") is { } avatar) chunk["avatar_url"] = avatar;
        if (Field("m.room.create", "type") is { } roomType) chunk["room_type"] = roomType;
        chunk["join_rule"] = Field("m.room.join_rules", "join_rule") ?? "invite";
        chunk["world_readable"] = Field("m.room.history_visibility", "history_visibility") == "world_readable";
        chunk["guest_can_join"] = Field("m.room.guest_access", "guest_access") == "can_join";
        return chunk;
    }

    private static bool Matches(JsonObject room, string term) =>
        new[] { "name", "topic", "canonical_alias" }.Any(k =>
            room[k]?.GetValue<string>().Contains(term, StringComparison.OrdinalIgnoreCase) == true);
}
