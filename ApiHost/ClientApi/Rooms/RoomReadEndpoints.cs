using Homeserver.Protocol;
using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Homeserver.ApiHost.ClientApi.Accounts;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>joined_rooms, members, joined_members and /messages.</summary>
public static class RoomReadEndpoints
{
    private const int MaxLimit = 1000;

    /// <summary>Backfills one /messages page may wait on, at most.</summary>
    private const int MaxBackfillRounds = 2;

    public static IEndpointRouteBuilder MapRoomReadApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/joined_rooms", JoinedRoomsAsync).AllowGuests();
            var rooms = $"/_matrix/client/{version}/rooms/{{roomId}}";
            app.MapGet($"{rooms}/members", MembersAsync).AllowGuests();
            app.MapGet($"{rooms}/joined_members", JoinedMembersAsync);
            app.MapGet($"{rooms}/messages", MessagesAsync).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> JoinedRoomsAsync(HttpContext http, AccessTokenAuthentication auth, RoomReader rooms)
    {
        var user = await auth.RequireUserAsync(http);
        return Results.Json(new { joined_rooms = await rooms.GetJoinedRoomsAsync(user.UserId) });
    }

    /// <summary>The members as the user may see them: at <c>at</c>, and never after the user's own leave.</summary>
    private static async Task<IResult> MembersAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomReader rooms,
        HistoryVisibility history, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var readable = await history.StateBoundaryAsync(room, user.UserId);
        var membership = http.Request.Query["membership"].ToString();
        var notMembership = http.Request.Query["not_membership"].ToString();
        foreach (var (name, value) in new[] { ("membership", membership), ("not_membership", notMembership) })
        {
            if (value.Length > 0 && value is not ("join" or "invite" or "knock" or "leave" or "ban"))
            {
                throw new MatrixException(400, "M_INVALID_PARAM", $"'{name}' must be join, invite, knock, leave or ban.");
            }
        }
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var at = http.Request.Query["at"].ToString();
        long? boundary = at.Length > 0 ? await RoomTokens.BoundaryAsync(rooms, room, at, "at") : null;
        if (readable is { } limit) boundary = Math.Min(boundary ?? limit, limit);
        var source = boundary is { } before
            ? await rooms.GetStateBeforeAsync(room, before, "m.room.member")
            : await rooms.GetCurrentStateAsync(room, "m.room.member");
        var chunk = source
            .Select(r => ClientEvents.Format(r, now))
            .Where(e =>
            {
                var m = e["content"]?["membership"]?.GetValue<string>();
                return (membership.Length == 0 || m == membership) && (notMembership.Length == 0 || m != notMembership);
            })
            .Select(e => (JsonNode)e)
            .ToArray();
        return Results.Json(new JsonObject { ["chunk"] = new JsonArray(chunk) });
    }

    /// <summary>For members and, in a world-readable room, anyone; not for those who left (Synapse answers so).</summary>
    private static async Task<IResult> JoinedMembersAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomReader rooms,
        HistoryVisibility history)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        await history.StateBoundaryAsync(room, user.UserId, joinedOnly: true);
        var joined = new JsonObject();
        foreach (var row in await rooms.GetCurrentStateAsync(room, "m.room.member"))
        {
            var pdu = StoredJson.Parse(row.Json)!;
            if (pdu["content"]?["membership"]?.GetValue<string>() != "join") continue;
            joined[pdu["state_key"]!.GetValue<string>()] = new JsonObject
            {
                ["display_name"] = pdu["content"]?["displayname"]?.DeepClone(),
                ["avatar_url"] = pdu["content"]?["avatar_url"]?.DeepClone(),
            };
        }
        return Results.Json(new JsonObject { ["joined"] = joined });
    }

    /// <summary>
    /// Room history by room order. Tokens are <c>r&lt;n&gt;</c>: a boundary between the room's
    /// events n-1 and n, so paging backwards from it returns events before n.
    /// </summary>
    private static async Task<IResult> MessagesAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomReader rooms,
        RoomDagStore dag, HistoryVisibility history, IgnoredUsers ignoredUsers, OwnTransactionIds transactionIds, Federation.RemoteBackfill backfill,
        TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var visible = await history.ForUserAsync(room, user.UserId);
        var query = http.Request.Query;
        var backwards = RoomTokens.Backwards(query);
        var limit = RoomTokens.Limit(query["limit"], 10, MaxLimit);
        var filter = RoomEventFilter.Parse(query["filter"]);
        if (filter?.Limit is { } filterLimit) limit = filterLimit;
        limit = Math.Min(limit, MaxLimit);
        var from = query["from"].ToString() is { Length: > 0 } f
            ? await RoomTokens.BoundaryAsync(rooms, room, f, "from")
            : backwards ? await rooms.GetLastRoomSeqAsync(room) + 1 : await dag.GetFirstRoomSeqAsync(room, http.RequestAborted) ?? 1;
        long? to = query["to"].ToString() is { Length: > 0 } t ? await RoomTokens.BoundaryAsync(rooms, room, t, "to") : null;

        // The filter's types and senders apply before the limit (spec), so a page holds up to limit events it can show.
        var page = await rooms.GetTimelineAsync(room, from, backwards, limit, filter?.Selection());
        // Paging back past the first event here: the rest of the history is on the servers that were in the room before us.
        for (var round = 0; backwards && page.Count < limit && round < MaxBackfillRounds &&
             await backfill.FillAsync(room, limit - page.Count, http.RequestAborted); round++)
        {
            page = await rooms.GetTimelineAsync(room, from, backwards, limit, filter?.Selection());
        }
        if (to is { } stop) page = page.Where(r => backwards ? r.RoomSeq >= stop : r.RoomSeq < stop).ToList();
        var ignored = await ignoredUsers.OfAsync(user.UserId);
        var rows = page.SeenThrough(visible).Where(r => IgnoredUsers.Shows(ignored, r)).ToList();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var chunk = rows.Select(r => ClientEvents.Format(r, now)).Where(e => filter?.Allows(e) ?? true).ToList();
        await transactionIds.AddAsync(user, chunk, http.RequestAborted);
        var response = new JsonObject
        {
            ["start"] = RoomTokens.Format(from),
            ["chunk"] = new JsonArray(chunk.Select(e => (JsonNode)e).ToArray()),
        };
        if (filter?.LazyLoadMembers == true && chunk.Count > 0)
        {
            // The senders' member events as they stood at the chunk's first event, as Synapse sends them.
            var senders = chunk.Select(e => e["sender"]?.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
            var members = await rooms.GetStateBeforeAsync(room, rows[0].RoomSeq + 1, "m.room.member");
            response["state"] = new JsonArray(members
                .Where(m => senders.Contains(StoredJson.Parse(m.Json)?["state_key"]?.GetValue<string>()))
                .Select(m => (JsonNode)ClientEvents.Format(m, now)).ToArray());
        }
        // The page is cut by the limit before visibility filtering, so "end" follows the page, not the visible rows.
        // A short page backwards still has more before it while other servers hold older history than this one does.
        if (page.Count > 0 && (page.Count == limit || backwards && await backfill.HasMoreAsync(room, http.RequestAborted)))
        {
            response["end"] = RoomTokens.Format(backwards ? page[^1].RoomSeq : page[^1].RoomSeq + 1);
        }
        return Results.Json(response);
    }
}
