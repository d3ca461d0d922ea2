using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Accounts;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Presence;
using Homeserver.Storage.Rooms;
using Homeserver.Grains.Interfaces;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Sync;
using Homeserver.Storage.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The pre-/sync API that the spec still lists and older clients and bots call: the event stream
/// (<c>GET /events</c>, also for peeking into one world-readable room), <c>GET /initialSync</c>,
/// a room's <c>GET /rooms/{roomId}/initialSync</c> (room previews) and <c>GET /events/{eventId}</c>.
/// Their <c>end</c> tokens are /sync tokens, so /events continues where /initialSync ended; the
/// per-room <c>messages</c> tokens are /messages tokens.
/// </summary>
public static class LegacySyncEndpoints
{
    private const int DefaultMessages = 10;
    private const int MaxMessages = 100;
    /// <summary>Events per /events answer; the token then stops at the last one, and the next call goes on.</summary>
    private const int StreamChunk = 100;
    /// <summary>What an /events poll wakes for: room events only.</summary>
    private static readonly IReadOnlySet<string> OnlyEvents = new HashSet<string>(StringComparer.Ordinal)
    {
        StreamNames.AccountData, StreamNames.Typing, StreamNames.Receipts, StreamNames.ToDevice, StreamNames.DeviceLists,
        StreamNames.Presence, StreamNames.PushRules,
    };

    public static IEndpointRouteBuilder MapLegacySyncApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/events", EventStreamAsync).AllowGuests();
            app.MapGet($"/_matrix/client/{version}/events/{{eventId}}", EventAsync);
            app.MapGet($"/_matrix/client/{version}/initialSync", InitialSyncAsync);
            app.MapGet($"/_matrix/client/{version}/rooms/{{roomId}}/initialSync", RoomInitialSyncAsync).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> EventStreamAsync(HttpContext http, AccessTokenAuthentication auth, SyncReader sync, HistoryVisibility history,
        IgnoredUsers ignoredUsers, SyncNotifier notifier, StreamPositionReader positions, TypingCache typing, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var query = http.Request.Query;
        var timeout = SyncLongPoll.TimeoutFrom(query);
        var from = query["from"].ToString() is { Length: > 0 } f
            ? SyncToken.Parse(f, "from")
            : await SyncLongPoll.CurrentTokenAsync(positions, typing);
        string? peeked = null;
        if (query["room_id"].ToString() is { Length: > 0 } roomId)
        {
            peeked = RoomPaths.RoomIdFrom(roomId);
            await history.ForUserAsync(peeked, user.UserId);
        }
        var ignored = await ignoredUsers.OfAsync(user.UserId);

        var body = await SyncLongPoll.RunAsync(http, user.UserId, timeout, OnlyEvents, notifier, positions, typing, clock, async upTo =>
        {
            upTo = upTo.Max(from);
            // The user's rooms, and those left since the token: their events up to the leave still belong to the stream.
            IReadOnlyList<string> roomIds = peeked is not null
                ? [peeked]
                : [.. (await sync.GetRoomsAsync(user.UserId)).Where(r => r.Membership == "join").Select(r => r.RoomId),
                   .. (await sync.GetLeftRoomsAsync(user.UserId, from.Events, upTo.Events)).Select(l => l.RoomId)];
            var page = await sync.GetStreamEventsAsync(roomIds, from.Events, upTo.Events, StreamChunk);
            var full = page.Count == StreamChunk;
            var end = full ? upTo with { Events = page[^1].StreamOrdering } : upTo;
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var visibleIn = new Dictionary<string, EventView>(StringComparer.Ordinal);
            foreach (var room in page.Select(r => r.RoomId).Distinct()) visibleIn[room] = await history.ForUserAsync(room, user.UserId);
            var chunk = new JsonArray(page.Select(r => visibleIn[r.RoomId](r)).OfType<RoomEventRow>().Where(r => IgnoredUsers.Shows(ignored, r))
                .Select(r => (JsonNode)ClientEvents.Format(r, now)).ToArray());
            var response = new JsonObject { ["start"] = from.ToString(), ["end"] = end.ToString(), ["chunk"] = chunk };
            return new SyncLongPoll.Answer<JsonObject>(response, full || chunk.Count > 0, roomIds);
        });
        return body is null ? Results.Empty : Results.Json(body);
    }

    /// <summary>An event by ID alone, for whoever may see it in its room; 404 otherwise, so its existence does not leak.</summary>
    private static async Task<IResult> EventAsync(HttpContext http, string eventId, AccessTokenAuthentication auth, RoomReader rooms,
        HistoryVisibility history, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var row = await rooms.GetEventAsync(eventId) ?? throw MatrixException.NotFound("Event not found.");
        var (visible, _) = await history.RequireVisibleEventAsync(row.RoomId, user.UserId, eventId);
        return Results.Json(ClientEvents.Format(visible, clock.GetUtcNow().ToUnixTimeMilliseconds()));
    }

    private static async Task<IResult> InitialSyncAsync(HttpContext http, AccessTokenAuthentication auth, SyncReader sync, RoomSnapshots snapshots,
        AccountDataStore accountData, PresenceStore presence, StreamPositionReader positions, TypingCache typing, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var query = http.Request.Query;
        var limit = RoomTokens.Limit(query["limit"], DefaultMessages, MaxMessages);
        var archived = query["archived"].ToString() switch
        {
            "" or "false" => false,
            "true" => true,
            _ => throw new MatrixException(400, "M_INVALID_PARAM", "'archived' must be true or false."),
        };
        var end = await SyncLongPoll.CurrentTokenAsync(positions, typing);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var allAccountData = await accountData.GetChangedAsync(user.UserId, 0, end.AccountData);

        var rooms = new JsonArray();
        foreach (var (roomId, membership, _) in await sync.GetRoomsAsync(user.UserId))
        {
            if (membership == "join") rooms.Add((JsonNode)await snapshots.TakeAsync(roomId, user.UserId, limit, allAccountData, now));
            else if (membership == "invite") rooms.Add((JsonNode)await snapshots.InviteAsync(roomId, user.UserId, now));
        }
        if (archived)
        {
            foreach (var (roomId, _) in await sync.GetLeftRoomsAsync(user.UserId, 0, end.Events))
            {
                rooms.Add((JsonNode)await snapshots.TakeAsync(roomId, user.UserId, limit, allAccountData, now));
            }
        }
        var peers = await sync.GetRoomPeersAsync(user.UserId);
        return Results.Json(new JsonObject
        {
            ["end"] = end.ToString(),
            ["rooms"] = rooms,
            ["presence"] = RoomSnapshots.PresenceEvents(await presence.GetChangedAsync(peers, 0, end.Presence), now),
            ["account_data"] = RoomSnapshots.AccountDataEvents(allAccountData, null),
        });
    }

    private static async Task<IResult> RoomInitialSyncAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomSnapshots snapshots,
        AccountDataStore accountData, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var limit = RoomTokens.Limit(http.Request.Query["limit"], DefaultMessages, MaxMessages);
        var allAccountData = await accountData.GetChangedAsync(user.UserId, 0, long.MaxValue);
        return Results.Json(await snapshots.TakeAsync(room, user.UserId, limit, allAccountData, clock.GetUtcNow().ToUnixTimeMilliseconds(), withPresence: true));
    }
}

/// <summary>
/// One room as the legacy initial syncs show it to a user: membership, the state the user may read
/// (current, or as their leave left it), the latest messages they may see with /messages tokens,
/// directory visibility and the user's account data for the room.
/// </summary>
public sealed class RoomSnapshots(RoomReader rooms, HistoryVisibility history, IgnoredUsers ignoredUsers, DirectoryStore directory, PresenceStore presence)
{
    public async Task<JsonObject> TakeAsync(string roomId, string userId, int limit,
        IReadOnlyList<(string? RoomId, string Type, string Content)> accountData, long now, bool withPresence = false)
    {
        var userHistory = await history.OfUserAsync(roomId, userId);
        var boundary = await userHistory.StateBoundaryAsync();
        var visible = await userHistory.EventsAsync();
        var end = boundary ?? await rooms.GetLastRoomSeqAsync(roomId) + 1;
        var state = boundary is { } before ? await rooms.GetStateBeforeAsync(roomId, before) : await rooms.GetCurrentStateAsync(roomId);
        var ignored = await ignoredUsers.OfAsync(userId);
        var page = await rooms.GetTimelineAsync(roomId, end, backwards: true, limit);
        var messages = page.SeenThrough(visible).Where(r => IgnoredUsers.Shows(ignored, r)).Reverse()
            .Select(r => (JsonNode)ClientEvents.Format(r, now)).ToArray();
        var snapshot = new JsonObject { ["room_id"] = roomId };
        var membership = state.Select(r => StoredJson.Parse(r.Json)!)
            .FirstOrDefault(e => e["type"]?.GetValue<string>() == "m.room.member" && e["state_key"]?.GetValue<string>() == userId)?["content"]?["membership"]
            ?.GetValue<string>();
        // A peek into a world-readable room has no membership to tell (Synapse leaves it out).
        if (membership is not null) snapshot["membership"] = membership;
        snapshot["messages"] = new JsonObject
        {
            ["chunk"] = new JsonArray(messages),
            ["start"] = RoomTokens.Format(page.Count > 0 ? page[^1].RoomSeq : end),
            ["end"] = RoomTokens.Format(end),
        };
        snapshot["state"] = new JsonArray(state.Select(r => (JsonNode)ClientEvents.Format(r, now)).ToArray());
        snapshot["visibility"] = await directory.IsPublishedAsync(roomId) ? "public" : "private";
        snapshot["account_data"] = AccountDataEvents(accountData, roomId);
        if (withPresence)
        {
            var joined = state.Select(r => StoredJson.Parse(r.Json)!)
                .Where(e => e["type"]?.GetValue<string>() == "m.room.member" && e["content"]?["membership"]?.GetValue<string>() == "join")
                .Select(e => e["state_key"]!.GetValue<string>()).ToList();
            snapshot["presence"] = PresenceEvents(await presence.GetChangedAsync(joined, 0, long.MaxValue), now);
        }
        return snapshot;
    }

    /// <summary>A room the user is invited to: only the invite, as Synapse answers (the room is not theirs to read yet).</summary>
    public async Task<JsonObject> InviteAsync(string roomId, string userId, long now)
    {
        var invite = (await rooms.GetCurrentStateAsync(roomId, "m.room.member", userId)).Single();
        var formatted = ClientEvents.Format(invite, now);
        return new JsonObject
        {
            ["room_id"] = roomId,
            ["membership"] = "invite",
            ["inviter"] = formatted["sender"]?.DeepClone(),
            ["invite"] = formatted,
        };
    }

    internal static JsonArray PresenceEvents(IEnumerable<PresenceRow> rows, long now) => new(rows.Select(p => (JsonNode)UserEvents.Presence(p, now)).ToArray());

    internal static JsonArray AccountDataEvents(IReadOnlyList<(string? RoomId, string Type, string Content)> changes, string? roomId) =>
        new(UserEvents.AccountData(changes, roomId).Cast<JsonNode>().ToArray());
}
