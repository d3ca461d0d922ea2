using Homeserver.Protocol;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>/context, /relations (threads, edits, annotations, replies) and /threads.</summary>
public static class RelationEndpoints
{
    private const int MaxLimit = 100;

    public static IEndpointRouteBuilder MapRelationApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var rooms = $"/_matrix/client/{version}/rooms/{{roomId}}";
            app.MapGet($"{rooms}/context/{{eventId}}", ContextAsync).AllowGuests();
        }
        var v1 = "/_matrix/client/v1/rooms/{roomId}";
        app.MapGet($"{v1}/relations/{{eventId}}", (HttpContext h, string roomId, string eventId, AccessTokenAuthentication a, RoomReader r,
            HistoryVisibility v, TimeProvider c) => RelationsAsync(h, roomId, eventId, null, null, a, r, v, c)).AllowGuests();
        app.MapGet($"{v1}/relations/{{eventId}}/{{relType}}", (HttpContext h, string roomId, string eventId, string relType, AccessTokenAuthentication a,
            RoomReader r, HistoryVisibility v, TimeProvider c) => RelationsAsync(h, roomId, eventId, relType, null, a, r, v, c)).AllowGuests();
        app.MapGet($"{v1}/relations/{{eventId}}/{{relType}}/{{eventType}}", RelationsAsync).AllowGuests();
        app.MapGet($"{v1}/threads", ThreadsAsync);
        // Clients that have not read /versions yet (matrix-js-sdk before its first sync) use MSC3856's prefix, as Synapse still serves it.
        app.MapGet("/_matrix/client/unstable/org.matrix.msc3856/rooms/{roomId}/threads", ThreadsAsync);
        return app;
    }

    private static async Task<IResult> ContextAsync(HttpContext http, string roomId, string eventId, AccessTokenAuthentication auth,
        RoomReader rooms, HistoryVisibility history, OwnTransactionIds transactionIds, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var (target, visible) = await history.RequireVisibleEventAsync(room, user.UserId, eventId);
        var limit = RoomTokens.Limit(http.Request.Query["limit"], 10, MaxLimit);
        var filter = RoomEventFilter.Parse(http.Request.Query["filter"]);
        var beforeCount = limit / 2;
        var before = (await rooms.GetTimelineAsync(room, target.RoomSeq, backwards: true, beforeCount, filter?.Selection())).SeenThrough(visible).ToList();
        var after = (await rooms.GetTimelineAsync(room, target.RoomSeq + 1, backwards: false, limit - beforeCount, filter?.Selection()))
            .SeenThrough(visible).ToList();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var shownBefore = before.Select(e => ClientEvents.Format(e, now)).Where(e => filter?.Allows(e) ?? true).ToList();
        var shownAfter = after.Select(e => ClientEvents.Format(e, now)).Where(e => filter?.Allows(e) ?? true).ToList();
        var shownEvent = ClientEvents.Format(target, now);
        await transactionIds.AddAsync(user, shownBefore.Concat(shownAfter).Append(shownEvent), http.RequestAborted);
        // The state at the last event returned (spec), members of the shown events' senders only when lazy-loading.
        var last = after.Count > 0 ? after[^1] : target;
        var state = await rooms.GetStateBeforeAsync(room, last.RoomSeq + 1);
        if (filter?.LazyLoadMembers == true)
        {
            var senders = shownBefore.Concat(shownAfter).Append(shownEvent).Select(e => e["sender"]?.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
            senders.Add(user.UserId);
            state = state.Where(r => StoredJson.Parse(r.Json) is { } pdu &&
                (pdu["type"]?.GetValue<string>() != "m.room.member" || senders.Contains(pdu["state_key"]?.GetValue<string>()))).ToList();
        }
        return Results.Json(new JsonObject
        {
            ["event"] = shownEvent,
            ["events_before"] = new JsonArray(shownBefore.Select(e => (JsonNode)e).ToArray()),
            ["events_after"] = new JsonArray(shownAfter.Select(e => (JsonNode)e).ToArray()),
            ["start"] = RoomTokens.Format(before.Count > 0 ? before[^1].RoomSeq : target.RoomSeq),
            ["end"] = RoomTokens.Format(last.RoomSeq + 1),
            ["state"] = new JsonArray(state.Select(e => (JsonNode)ClientEvents.Format(e, now)).ToArray()),
        });
    }

    private static async Task<IResult> RelationsAsync(HttpContext http, string roomId, string eventId, string? relType, string? eventType,
        AccessTokenAuthentication auth, RoomReader rooms, HistoryVisibility history, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var (_, visible) = await history.RequireVisibleEventAsync(room, user.UserId, eventId);
        var query = http.Request.Query;
        var backwards = RoomTokens.Backwards(query);
        var limit = RoomTokens.Limit(query["limit"], 5, MaxLimit);
        var from = query["from"].ToString() is { Length: > 0 } f ? RoomTokens.Parse(f, "from") : backwards ? long.MaxValue : 0;
        var rows = await rooms.GetRelationsAsync(room, eventId, relType, eventType, from, backwards, limit);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        // The page is cut before visibility, so next_batch follows the page, not the rows shown.
        var response = new JsonObject { ["chunk"] = new JsonArray(rows.SeenThrough(visible).Select(e => (JsonNode)ClientEvents.Format(e, now)).ToArray()) };
        if (rows.Count == limit && limit > 0) response["next_batch"] = RoomTokens.Format(backwards ? rows[^1].RoomSeq : rows[^1].RoomSeq + 1);
        return Results.Json(response);
    }

    private static async Task<IResult> ThreadsAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomReader rooms,
        HistoryVisibility history, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var visible = await history.ForUserAsync(room, user.UserId);
        var query = http.Request.Query;
        var include = query["include"].ToString() is { Length: > 0 } i ? i : "all";
        if (include is not ("all" or "participated")) throw new MatrixException(400, "M_INVALID_PARAM", "'include' must be all or participated.");
        var limit = RoomTokens.Limit(query["limit"], 10, MaxLimit);
        var from = query["from"].ToString() is { Length: > 0 } f ? RoomTokens.Parse(f, "from") : long.MaxValue;
        var threads = await rooms.GetThreadsAsync(room, from, limit);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var chunk = new JsonArray();
        foreach (var (thread, _) in threads)
        {
            if (visible(thread) is not { } root) continue;
            var replies = (await rooms.GetRelationsAsync(room, root.EventId, "m.thread", null, long.MaxValue, backwards: true, MaxLimit)).SeenThrough(visible).ToList();
            var participated = new[] { root }.Concat(replies).Any(r => StoredJson.Parse(r.Json)?["sender"]?.GetValue<string>() == user.UserId);
            if (include == "participated" && !participated) continue;
            var formatted = ClientEvents.Format(root, now);
            formatted["unsigned"]!["m.relations"] = new JsonObject
            {
                ["m.thread"] = new JsonObject
                {
                    ["latest_event"] = replies.Count > 0 ? ClientEvents.Format(replies[0], now) : null,
                    ["count"] = replies.Count,
                    ["current_user_participated"] = participated,
                },
            };
            chunk.Add(formatted);
        }
        var response = new JsonObject { ["chunk"] = chunk };
        if (threads.Count == limit && limit > 0) response["next_batch"] = RoomTokens.Format(threads[^1].LatestSeq);
        return Results.Json(response);
    }
}
