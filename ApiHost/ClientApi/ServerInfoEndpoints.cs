using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>/capabilities and /.well-known/matrix/client.</summary>
public static class ServerInfoEndpoints
{
    public static IEndpointRouteBuilder MapServerInfoApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/capabilities", CapabilitiesAsync).AllowGuests();
        }
        app.MapGet("/.well-known/matrix/client", (ProcessSettings settings) => settings.PublicBaseUrl is { } baseUrl
            ? Results.Json(new JsonObject { ["m.homeserver"] = new JsonObject { ["base_url"] = baseUrl } })
            : Results.Json(new JsonObject { ["errcode"] = "M_NOT_FOUND", ["error"] = "No public_baseurl is configured." }, statusCode: 404));
        return app;
    }

    private static async Task<IResult> CapabilitiesAsync(HttpContext http, AccessTokenAuthentication auth, ProcessSettings settings)
    {
        await auth.RequireUserAsync(http);
        var available = new JsonObject();
        foreach (var v in RoomVersions.All.OrderBy(v => v.Number)) available[v.Id] = "stable";
        return Results.Json(new JsonObject
        {
            ["capabilities"] = new JsonObject
            {
                ["m.room_versions"] = new JsonObject { ["default"] = RoomVersions.DefaultId, ["available"] = available },
                ["m.change_password"] = new JsonObject { ["enabled"] = true },
                ["m.set_displayname"] = new JsonObject { ["enabled"] = true },
                ["m.set_avatar_url"] = new JsonObject { ["enabled"] = true },
                // As Synapse: enable_3pid_changes, whether or not email is configured.
                ["m.3pid_changes"] = new JsonObject { ["enabled"] = settings.ThreePids.EnableChanges },
            },
        });
    }
}
