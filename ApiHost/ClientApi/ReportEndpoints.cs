using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Reports;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>
/// Spec "Reporting content": <c>POST /rooms/{roomId}/report/{eventId}</c> (the reporter must be joined),
/// <c>/rooms/{roomId}/report</c> (v1.13) and <c>/users/{userId}/report</c> (v1.14), kept for admins.
/// </summary>
public static class ReportEndpoints
{
    public static IEndpointRouteBuilder MapReportApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapPost($"/_matrix/client/{version}/rooms/{{roomId}}/report/{{eventId}}", ReportEventAsync);
        }
        app.MapPost("/_matrix/client/v3/rooms/{roomId}/report", ReportRoomAsync);
        app.MapPost("/_matrix/client/v3/users/{userId}/report", ReportUserAsync);
        return app;
    }

    private static async Task<IResult> ReportEventAsync(HttpContext http, string roomId, string eventId, AccessTokenAuthentication auth,
        RateLimiter limiter, ProcessSettings settings, RoomReader rooms, ContentReportStore reports, TimeProvider clock)
    {
        var (user, body) = await ReadAsync(http, auth, limiter, settings);
        var reason = body.OptionalString("reason");
        // "score" left the spec in v1.18; older clients still send it, and it must then be what it was.
        if (body["score"] is { } score && (score is not JsonValue v || !v.TryGetValue<long>(out _)))
        {
            throw MatrixException.BadJson("'score' must be an integer.");
        }
        var room = RoomPaths.RoomIdFrom(roomId);
        var row = await rooms.GetMembershipAsync(room, user.UserId) == "join" ? await rooms.GetEventAsync(eventId) : null;
        if (row is null || row.RoomId != room) throw MatrixException.NotFound("The event was not found or you are not joined to the room.");
        await reports.AddAsync(new ContentReport(user.UserId, room, eventId, null, reason, body.ToJsonString()), Now(clock));
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> ReportRoomAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RateLimiter limiter,
        ProcessSettings settings, RoomReader rooms, ContentReportStore reports, TimeProvider clock)
    {
        var (user, body) = await ReadAsync(http, auth, limiter, settings);
        var reason = body.RequiredString("reason");
        var room = RoomPaths.RoomIdFrom(roomId);
        if (await rooms.GetRoomVersionAsync(room) is null) throw MatrixException.NotFound("The room was not found.");
        await reports.AddAsync(new ContentReport(user.UserId, room, null, null, reason, body.ToJsonString()), Now(clock));
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> ReportUserAsync(HttpContext http, string userId, AccessTokenAuthentication auth, RateLimiter limiter,
        ProcessSettings settings, AccountStore accounts, ContentReportStore reports, TimeProvider clock)
    {
        var (user, body) = await ReadAsync(http, auth, limiter, settings);
        var reason = body.RequiredString("reason");
        if (!UserId.TryParse(userId, out var target)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{userId}' is not a user ID.");
        // Users of other servers cannot be checked without federation; a local one must exist (Synapse answers so).
        if (target.Server.ToString() == settings.ServerName && !await accounts.UserExistsAsync(userId)) throw MatrixException.NotFound("The user was not found.");
        await reports.AddAsync(new ContentReport(user.UserId, null, null, userId, reason, body.ToJsonString()), Now(clock));
        return Results.Json(new JsonObject());
    }

    private static async Task<(AuthenticatedUser User, JsonObject Body)> ReadAsync(HttpContext http, AccessTokenAuthentication auth, RateLimiter limiter,
        ProcessSettings settings)
    {
        var user = await auth.RequireUserAsync(http);
        limiter.Acquire("report", user.UserId, settings.RateLimits.Message);
        return (user, await JsonBody.ReadObjectAsync(http.Request));
    }

    private static long Now(TimeProvider clock) => clock.GetUtcNow().ToUnixTimeMilliseconds();
}
