using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Receipts;
using Homeserver.Grains.Interfaces.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>/receipt and /read_markers: read receipts (public, private, threaded) and the fully-read marker.</summary>
public static class ReceiptEndpoints
{
    public static IEndpointRouteBuilder MapReceiptApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var rooms = $"/_matrix/client/{version}/rooms/{{roomId}}";
            app.MapPost($"{rooms}/receipt/{{receiptType}}/{{eventId}}", ReceiptAsync);
            app.MapPost($"{rooms}/read_markers", ReadMarkersAsync);
        }
        return app;
    }

    private static async Task<IResult> ReceiptAsync(HttpContext http, string roomId, string receiptType, string eventId,
        AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var threadId = body.OptionalString("thread_id");
        if (threadId is { Length: 0 }) throw new MatrixException(400, "M_INVALID_PARAM", "'thread_id' must not be empty.");
        switch (receiptType)
        {
            case "m.read" or "m.read.private":
                await grains.GetGrain<IReceiptGrain>(user.UserId).SendReceiptAsync(room, receiptType, eventId, threadId, http.RequestAborted);
                break;
            case "m.fully_read":
                if (threadId is not null) throw new MatrixException(400, "M_INVALID_PARAM", "m.fully_read cannot be threaded.");
                await grains.GetGrain<IUserGrain>(user.UserId).SetAccountDataAsync(room, "m.fully_read", new JsonObject { ["event_id"] = eventId }, http.RequestAborted);
                break;
            default:
                throw new MatrixException(400, "M_INVALID_PARAM", $"'{receiptType}' is not a receipt type; use m.read, m.read.private or m.fully_read.");
        }
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> ReadMarkersAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var fullyRead = body.OptionalString("m.fully_read");
        var read = body.OptionalString("m.read");
        var readPrivate = body.OptionalString("m.read.private");
        if (read is not null) await grains.GetGrain<IReceiptGrain>(user.UserId).SendReceiptAsync(room, "m.read", read, null, http.RequestAborted);
        if (readPrivate is not null) await grains.GetGrain<IReceiptGrain>(user.UserId).SendReceiptAsync(room, "m.read.private", readPrivate, null, http.RequestAborted);
        if (fullyRead is not null)
        {
            await grains.GetGrain<IUserGrain>(user.UserId).SetAccountDataAsync(room, "m.fully_read", new JsonObject { ["event_id"] = fullyRead }, http.RequestAborted);
        }
        return Results.Json(new JsonObject());
    }
}
