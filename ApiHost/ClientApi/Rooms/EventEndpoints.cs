using Homeserver.Protocol;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>Sending events and state, and reading single events and state.</summary>
public static class EventEndpoints
{
    public static IEndpointRouteBuilder MapEventApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var rooms = $"/_matrix/client/{version}/rooms/{{roomId}}";
            app.MapPut($"{rooms}/send/{{eventType}}/{{txnId}}", SendAsync).AllowGuests();
            app.MapPut($"{rooms}/state/{{eventType}}/{{stateKey}}", PutStateAsync).AllowGuests();
            app.MapPut($"{rooms}/state/{{eventType}}", (HttpContext h, string roomId, string eventType, AccessTokenAuthentication a, RoomAliases r,
                IGrainFactory g) => PutStateAsync(h, roomId, eventType, "", a, r, g)).AllowGuests();
            app.MapGet($"{rooms}/state/{{eventType}}/{{stateKey}}", GetStateAsync).AllowGuests();
            app.MapGet($"{rooms}/state/{{eventType}}", (HttpContext h, string roomId, string eventType, AccessTokenAuthentication a,
                HistoryVisibility v, TimeProvider c) => GetStateAsync(h, roomId, eventType, "", a, v, c)).AllowGuests();
            app.MapGet($"{rooms}/state", GetAllStateAsync).AllowGuests();
            app.MapGet($"{rooms}/event/{{eventId}}", GetEventAsync).AllowGuests();
            app.MapPut($"{rooms}/redact/{{eventId}}/{{txnId}}", RedactAsync);
            app.MapPut($"{rooms}/typing/{{userId}}", TypingAsync);
        }
        return app;
    }

    private static async Task<IResult> SendAsync(HttpContext http, string roomId, string eventType, string txnId,
        AccessTokenAuthentication auth, IGrainFactory grains, RateLimiter limiter, ProcessSettings settings)
    {
        var user = await auth.RequireUserAsync(http);
        limiter.Acquire("message", user.UserId, settings.RateLimits.Message);
        var room = RoomPaths.RoomIdFrom(roomId);
        var content = await JsonBody.ReadObjectAsync(http.Request);
        var sent = await grains.GetGrain<IRoomGrain>(room).SendEventAsync(
            new SendEventCommand(user.UserId, eventType, null, content, new ClientTransaction(user.DeviceId, $"send/{eventType}/{txnId}")), http.RequestAborted);
        return Results.Json(new { event_id = sent.EventId });
    }

    private static async Task<IResult> RedactAsync(HttpContext http, string roomId, string eventId, string txnId,
        AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        if (!Homeserver.Protocol.EventId.TryParse(eventId, out _)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{eventId}' is not an event ID.");
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var content = new JsonObject();
        if (body.OptionalString("reason") is { } reason) content["reason"] = reason;
        var sent = await grains.GetGrain<IRoomGrain>(room).SendEventAsync(
            new SendEventCommand(user.UserId, "m.room.redaction", null, content, new ClientTransaction(user.DeviceId, $"redact/{eventId}/{txnId}"), Redacts: eventId), http.RequestAborted);
        return Results.Json(new { event_id = sent.EventId });
    }

    private static async Task<IResult> TypingAsync(HttpContext http, string roomId, string userId, AccessTokenAuthentication auth,
        RoomReader rooms, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only set your own typing state.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var typing = body.OptionalBool("typing", false);
        var timeout = body["timeout"] switch
        {
            null => 30_000,
            JsonValue t when t.TryGetValue<long>(out var ms) && ms >= 0 => (int)Math.Min(ms, int.MaxValue),
            _ => throw MatrixException.BadJson("'timeout' must be a number of milliseconds."),
        };
        await RequireJoinedAsync(rooms, room, user.UserId);
        await grains.GetGrain<Homeserver.Grains.Interfaces.Typing.ITypingGrain>(room).SetTypingAsync(user.UserId, typing, timeout, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> PutStateAsync(HttpContext http, string roomId, string eventType, string stateKey,
        AccessTokenAuthentication auth, RoomAliases aliases, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var content = await JsonBody.ReadObjectAsync(http.Request);
        if (eventType is "m.room.create") throw MatrixException.Forbidden("The create event cannot be replaced.");
        if (eventType is "m.room.canonical_alias" && stateKey.Length == 0) await aliases.ValidateCanonicalAliasAsync(room, content);
        var sent = await grains.GetGrain<IRoomGrain>(room).SendEventAsync(new SendEventCommand(user.UserId, eventType, stateKey, content, null), http.RequestAborted);
        return Results.Json(new { event_id = sent.EventId });
    }

    /// <summary>A state event's content, or with <c>format=event</c> (Synapse's, which clients send) the whole event.</summary>
    private static async Task<IResult> GetStateAsync(HttpContext http, string roomId, string eventType, string stateKey,
        AccessTokenAuthentication auth, HistoryVisibility history, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var format = http.Request.Query["format"].ToString() is { Length: > 0 } f ? f : "content";
        if (format is not ("content" or "event")) throw new MatrixException(400, "M_INVALID_PARAM", "'format' must be content or event.");
        var rows = await history.ReadableStateAsync(RoomPaths.RoomIdFrom(roomId), user.UserId, eventType, stateKey);
        if (rows.Count == 0) throw MatrixException.NotFound($"No {eventType} state with key '{stateKey}' in this room.");
        return format == "event"
            ? Results.Json(ClientEvents.Format(rows[0], clock.GetUtcNow().ToUnixTimeMilliseconds()))
            : Results.Json(StoredJson.Parse(rows[0].Json)!["content"]);
    }

    private static async Task<IResult> GetAllStateAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, HistoryVisibility history,
        TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var state = await history.ReadableStateAsync(RoomPaths.RoomIdFrom(roomId), user.UserId);
        return Results.Json(new JsonArray(state.Select(r => (JsonNode)ClientEvents.Format(r, now)).ToArray()));
    }

    private static async Task<IResult> GetEventAsync(HttpContext http, string roomId, string eventId, AccessTokenAuthentication auth,
        HistoryVisibility history, OwnTransactionIds transactionIds, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var (row, _) = await history.RequireVisibleEventAsync(RoomPaths.RoomIdFrom(roomId), user.UserId, eventId);
        var shown = ClientEvents.Format(row, clock.GetUtcNow().ToUnixTimeMilliseconds());
        await transactionIds.AddAsync(user, [shown], http.RequestAborted);
        return Results.Json(shown);
    }

    /// <summary>For what only current members may do (typing, publishing); reads go through <see cref="HistoryVisibility"/>.</summary>
    internal static async Task RequireJoinedAsync(RoomReader rooms, string roomId, string userId)
    {
        if (await rooms.GetMembershipAsync(roomId, userId) != "join")
        {
            if (await rooms.GetRoomVersionAsync(roomId) is null) throw MatrixException.NotFound("Unknown room.");
            throw MatrixException.Forbidden("You are not joined to this room.");
        }
    }
}
