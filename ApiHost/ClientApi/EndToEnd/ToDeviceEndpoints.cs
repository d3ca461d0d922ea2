using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.EndToEnd;

/// <summary>/sendToDevice: messages for other devices, delivered through their /sync.</summary>
public static class ToDeviceEndpoints
{
    public static IEndpointRouteBuilder MapToDeviceApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapPut($"/_matrix/client/{version}/sendToDevice/{{eventType}}/{{txnId}}", SendAsync).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> SendAsync(HttpContext http, string eventType, string txnId, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var messages = body.OptionalObject("messages") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'messages' is missing.");
        foreach (var (userId, devices) in messages)
        {
            RoomPaths.UserIdFrom(userId, "messages");
            if (devices is not JsonObject byDevice || byDevice.Any(d => d.Value is not JsonObject))
            {
                throw MatrixException.BadJson("'messages' maps user IDs to device IDs to message content objects.");
            }
        }
        await grains.GetGrain<IToDeviceGrain>(user.UserId).SendAsync(user.DeviceId, txnId, eventType, messages, http.RequestAborted);
        return Results.Json(new JsonObject());
    }
}
