using Homeserver.Protocol;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Storage.Push;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>/pushers and /pushers/set: where a user's notifications are pushed (an HTTP push gateway).</summary>
public static class PusherEndpoints
{
    public static IEndpointRouteBuilder MapPusherApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/pushers", ListAsync);
            app.MapPost($"/_matrix/client/{version}/pushers/set", SetAsync);
        }
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, AccessTokenAuthentication auth, PusherStore pushers)
    {
        var user = await auth.RequireUserAsync(http);
        var list = new JsonArray((await pushers.GetAsync(user.UserId)).Select(p => (JsonNode)new JsonObject
        {
            ["app_id"] = p.AppId, ["pushkey"] = p.Pushkey, ["kind"] = p.Kind, ["app_display_name"] = p.AppDisplayName,
            ["device_display_name"] = p.DeviceDisplayName, ["profile_tag"] = p.ProfileTag, ["lang"] = p.Lang, ["data"] = StoredJson.Parse(p.DataJson),
        }).ToArray());
        return Results.Json(new JsonObject { ["pushers"] = list });
    }

    private static async Task<IResult> SetAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var appId = Limited(body.RequiredString("app_id"), "app_id", 64);
        var pushkey = Limited(body.RequiredString("pushkey"), "pushkey", 512);
        var userGrain = grains.GetGrain<IUserGrain>(user.UserId);
        // kind: null deletes the pusher.
        if (body.ContainsKey("kind") && body["kind"] is null)
        {
            await userGrain.DeletePusherAsync(appId, pushkey);
            return Results.Json(new JsonObject());
        }
        var kind = body.RequiredString("kind");
        if (kind != "http") throw new MatrixException(400, "M_INVALID_PARAM", "Only 'http' pushers are supported.");
        var data = body.OptionalObject("data") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'data' is missing.");
        if (data["url"]?.ToString() is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var gateway) ||
            gateway.Scheme is not ("http" or "https") || gateway.AbsolutePath != "/_matrix/push/v1/notify")
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "'data.url' must be an http(s) URL ending in /_matrix/push/v1/notify.");
        }
        await userGrain.SetPusherAsync(new PusherSettings(appId, pushkey, kind, body.RequiredString("app_display_name"),
            body.RequiredString("device_display_name"), body.OptionalString("profile_tag"), body.RequiredString("lang"), data, user.DeviceId),
            body.OptionalBool("append", false));
        return Results.Json(new JsonObject());
    }

    private static string Limited(string value, string field, int max) =>
        value.Length is > 0 && value.Length <= max ? value : throw new MatrixException(400, "M_INVALID_PARAM", $"'{field}' must be 1 to {max} characters.");
}
