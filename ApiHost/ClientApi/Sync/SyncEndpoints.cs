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
using Homeserver.Storage.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// /sync over the events stream, and filters.
///
/// A sync token is <c>s&lt;e&gt;_&lt;a&gt;</c>: every event at or below events-stream position e and
/// every account data change at or below account_data position a has been delivered. Each is the
/// stream's safe position (every writer has committed below it), so a row committed out of order by
/// another writer can never fall behind a token already handed out: incremental syncs neither skip
/// nor repeat. Not yet here (the sync issue): ephemeral events,
/// to-device, device lists, presence, push-rule counts, lazy-loading and the leave section.
/// </summary>
public static class SyncEndpoints
{
    private const int DefaultTimelineLimit = 10;
    private const int MaxTimeout = 60_000;

    public static IEndpointRouteBuilder MapSyncApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/sync", SyncAsync);
            app.MapPost($"/_matrix/client/{version}/user/{{userId}}/filter", CreateFilterAsync);
            app.MapGet($"/_matrix/client/{version}/user/{{userId}}/filter/{{filterId}}", GetFilterAsync);
        }
        return app;
    }

    private static async Task<IResult> SyncAsync(HttpContext http, AccessTokenAuthentication auth, SyncReader sync, RoomReader rooms,
        StreamPositionReader positions, SyncNotifier notifier, AccountDataStore accountData, TypingCache typing, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var query = http.Request.Query;
        SyncToken? since = query["since"].ToString() is { Length: > 0 } s ? SyncToken.Parse(s) : null;
        var timeout = query["timeout"].ToString() is { Length: > 0 } t
            ? int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? Math.Min(ms, MaxTimeout)
                : throw new MatrixException(400, "M_INVALID_PARAM", "'timeout' must be a number of milliseconds.")
            : 0;
        var fullState = query["full_state"].ToString() == "true";
        var filter = await ResolveFilterAsync(sync, user.UserId, query["filter"].ToString());
        var limit = filter?["room"]?["timeline"]?["limit"] is JsonValue l && l.TryGetValue<int>(out var n) && n >= 0 ? n : DefaultTimelineLimit;

        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(timeout), clock);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadline.Token);
        while (true)
        {
            var wake = notifier.NextChangeAsync(cancel.Token);
            var upTo = new SyncToken(await positions.GetSafePositionAsync("events"), await positions.GetSafePositionAsync("account_data"), typing.Latest);
            var response = await BuildAsync(user.UserId, since, upTo, limit, fullState, sync, rooms, accountData, typing, clock);
            var hasNews = since is null || response.HasChanges;
            if (hasNews || cancel.IsCancellationRequested) return Results.Json(response.Body);
            try
            {
                // Positions are persisted shortly after a row is announced: if the notifier is ahead, look again soon.
                if (notifier.Latest > upTo.Events || notifier.LatestAccountData > upTo.AccountData) await Task.Delay(TimeSpan.FromMilliseconds(20), clock, cancel.Token);
                else await wake;
            }
            catch (OperationCanceledException) when (!http.RequestAborted.IsCancellationRequested)
            {
                // Timed out with nothing new: answer with the unchanged token.
            }
        }
    }

    private sealed record SyncResult(JsonObject Body, bool HasChanges);

    private static async Task<SyncResult> BuildAsync(string userId, SyncToken? sinceToken, SyncToken upToToken, int limit, bool fullState,
        SyncReader sync, RoomReader rooms, AccountDataStore accountData, TypingCache typing, TimeProvider clock)
    {
        long? since = sinceToken?.Events;
        var upTo = upToToken.Events;
        var accountDataChanges = await accountData.GetChangedAsync(userId, sinceToken?.AccountData ?? 0,
            Math.Max(upToToken.AccountData, sinceToken?.AccountData ?? 0));
        JsonArray AccountDataFor(string? roomId) => new(accountDataChanges.Where(c => c.RoomId == roomId)
            .GroupBy(c => c.Type).Select(g => (JsonNode)new JsonObject { ["type"] = g.Key, ["content"] = JsonNode.Parse(g.Last().Content) }).ToArray());
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var memberships = await sync.GetRoomsAsync(userId);
        var joined = memberships.Where(m => m.Membership == "join").Select(m => m.RoomId).ToList();
        var events = await sync.GetEventsAsync(memberships.Select(m => m.RoomId).ToList(), since ?? 0, upTo, limit);
        var byRoom = events.GroupBy(e => e.RoomId).ToDictionary(g => g.Key, g => g.ToList());

        var join = new JsonObject();
        foreach (var roomId in joined)
        {
            var roomEvents = byRoom.GetValueOrDefault(roomId) ?? [];
            var roomAccountData = AccountDataFor(roomId);
            var typingUsers = typing.ChangedSince(roomId, sinceToken?.Typing ?? 0);
            var ephemeral = new JsonArray();
            if (typingUsers is not null && (sinceToken is not null || typingUsers.Count > 0))
            {
                ephemeral.Add(new JsonObject
                {
                    ["type"] = "m.typing",
                    ["content"] = new JsonObject { ["user_ids"] = new JsonArray(typingUsers.Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()) },
                });
            }
            if (since is not null && roomEvents.Count == 0 && roomAccountData.Count == 0 && ephemeral.Count == 0 && !fullState) continue;
            var limited = roomEvents.Count > limit;
            var timeline = limited ? roomEvents.Skip(roomEvents.Count - limit).ToList() : roomEvents;
            // A room the user joined since the token needs its whole state, as on an initial sync.
            var joinedNow = since is null || fullState || timeline.Any(e => OwnMembership(e, userId) == "join") || limited;
            var state = new JsonArray();
            if (joinedNow)
            {
                var inTimeline = timeline.Select(e => e.EventId).ToHashSet();
                foreach (var row in await rooms.GetCurrentStateAsync(roomId))
                {
                    if (!inTimeline.Contains(row.EventId)) state.Add(ClientEvents.Format(row, now));
                }
            }
            join[roomId] = new JsonObject
            {
                ["timeline"] = new JsonObject
                {
                    ["events"] = new JsonArray(timeline.Select(e => (JsonNode)ClientEvents.Format(e, now)).ToArray()),
                    ["limited"] = limited || (since is null && timeline.Count > 0 && timeline[0].RoomSeq > 1),
                    ["prev_batch"] = RoomTokens.Format(timeline.Count > 0 ? timeline[0].RoomSeq : await rooms.GetLastRoomSeqAsync(roomId) + 1),
                },
                ["state"] = new JsonObject { ["events"] = state },
                ["ephemeral"] = new JsonObject { ["events"] = ephemeral },
                ["account_data"] = new JsonObject { ["events"] = roomAccountData },
                ["unread_notifications"] = new JsonObject { ["notification_count"] = 0, ["highlight_count"] = 0 },
            };
        }

        var invite = new JsonObject();
        foreach (var (roomId, _) in memberships.Where(m => m.Membership == "invite"))
        {
            if (since is not null && !(byRoom.GetValueOrDefault(roomId) ?? []).Any(e => OwnMembership(e, userId) is not null)) continue;
            var stripped = new JsonArray();
            foreach (var row in await rooms.GetCurrentStateAsync(roomId))
            {
                var pdu = JsonNode.Parse(row.Json)!;
                var type = pdu["type"]!.GetValue<string>();
                if (type is "m.room.create" or "m.room.join_rules" or "m.room.name" or "m.room.avatar" or "m.room.canonical_alias" or "m.room.encryption" ||
                    (type == "m.room.member" && pdu["state_key"]?.GetValue<string>() == userId))
                {
                    stripped.Add(new JsonObject
                    {
                        ["type"] = type, ["state_key"] = pdu["state_key"]?.DeepClone(), ["sender"] = pdu["sender"]?.DeepClone(),
                        ["content"] = pdu["content"]?.DeepClone(),
                    });
                }
            }
            invite[roomId] = new JsonObject { ["invite_state"] = new JsonObject { ["events"] = stripped } };
        }

        var globalAccountData = AccountDataFor(null);
        var next = new SyncToken(Math.Max(upTo, since ?? 0), Math.Max(upToToken.AccountData, sinceToken?.AccountData ?? 0),
            Math.Max(upToToken.Typing, sinceToken?.Typing ?? 0));
        var body = new JsonObject
        {
            ["next_batch"] = next.ToString(),
            ["rooms"] = new JsonObject { ["join"] = join, ["invite"] = invite, ["leave"] = new JsonObject() },
            ["account_data"] = new JsonObject { ["events"] = globalAccountData },
            ["presence"] = new JsonObject { ["events"] = new JsonArray() },
            ["to_device"] = new JsonObject { ["events"] = new JsonArray() },
            ["device_lists"] = new JsonObject { ["changed"] = new JsonArray(), ["left"] = new JsonArray() },
            ["device_one_time_keys_count"] = new JsonObject(),
        };
        return new SyncResult(body, join.Count > 0 || invite.Count > 0 || globalAccountData.Count > 0);
    }

    /// <summary>The membership this row gives <paramref name="userId"/>, or null when it is not their member event.</summary>
    private static string? OwnMembership(RoomEventRow row, string userId)
    {
        var pdu = JsonNode.Parse(row.Json);
        return pdu?["type"]?.GetValue<string>() == "m.room.member" && pdu["state_key"]?.GetValue<string>() == userId
            ? pdu["content"]?["membership"]?.GetValue<string>()
            : null;
    }

    private static async Task<JsonObject?> ResolveFilterAsync(SyncReader sync, string userId, string filter)
    {
        if (filter.Length == 0) return null;
        if (filter.StartsWith('{'))
        {
            try
            {
                return JsonNode.Parse(filter) as JsonObject ?? throw new MatrixException(400, "M_INVALID_PARAM", "'filter' must be a JSON object.");
            }
            catch (JsonException)
            {
                throw new MatrixException(400, "M_INVALID_PARAM", "'filter' is not valid JSON.");
            }
        }
        if (!long.TryParse(filter, NumberStyles.None, CultureInfo.InvariantCulture, out var id)) throw new MatrixException(400, "M_INVALID_PARAM", "Unknown filter.");
        var json = await sync.GetFilterAsync(userId, id) ?? throw new MatrixException(400, "M_INVALID_PARAM", "Unknown filter.");
        return JsonNode.Parse(json) as JsonObject;
    }

    private static async Task<IResult> CreateFilterAsync(HttpContext http, string userId, AccessTokenAuthentication auth, SyncReader sync)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only create filters for yourself.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
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

    /// <summary>Positions in the events and account_data streams; <c>s&lt;e&gt;</c> alone is read as account_data 0.</summary>
    /// <summary>Positions in the events, account_data and typing streams, as <c>s&lt;e&gt;_&lt;a&gt;_&lt;t&gt;</c>; missing parts read as 0.</summary>
    private sealed record SyncToken(long Events, long AccountData, long Typing)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"s{Events}_{AccountData}_{Typing}");

        public static SyncToken Parse(string token)
        {
            var parts = token.StartsWith('s') ? token[1..].Split('_') : [];
            var values = new long[3];
            if (parts.Length is >= 1 and <= 3 &&
                parts.Select((p, i) => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out values[i])).All(ok => ok))
            {
                return new SyncToken(values[0], values[1], values[2]);
            }
            throw new MatrixException(400, "M_INVALID_PARAM", "'since' is not a sync token of this server.");
        }
    }
}
