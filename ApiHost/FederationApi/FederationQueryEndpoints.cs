using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// Queries other servers make about this server's users and aliases (server-server-api "Query"
/// endpoints), signed as every federation request: <c>/query/profile</c> and <c>/query/directory</c>,
/// answered as Synapse answers them (a user or alias of another server is 400, an unknown one 404).
/// </summary>
public static class FederationQueryEndpoints
{
    public static IEndpointRouteBuilder MapFederationQueryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_matrix/federation/v1/query/profile", ProfileAsync);
        app.MapGet("/_matrix/federation/v1/query/directory", DirectoryAsync);
        return app;
    }

    private static async Task<IResult> ProfileAsync(HttpContext http, FederationOrigin origin, AccountStore accounts, RoomReader rooms,
        ProcessSettings settings)
    {
        var text = http.Request.Query["user_id"].ToString();
        if (text.Length == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'user_id' is missing.");
        if (!UserId.TryParse(text, out var userId)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{text}' is not a user ID.");
        if (userId.Server.ToString() != settings.ServerName) throw new MatrixException(400, "M_INVALID_PARAM", "The user is not hosted on this server.");
        var field = http.Request.Query["field"].ToString();
        var user = userId.ToString();
        if (!await accounts.UserExistsAsync(user, http.RequestAborted)) throw MatrixException.NotFound("Profile was not found.");
        var (displayName, avatarUrl) = await rooms.GetProfileAsync(user);
        var body = new JsonObject();
        if (displayName is not null && field is "" or "displayname") body["displayname"] = displayName;
        if (avatarUrl is not null && field is "" or "avatar_url") body["avatar_url"] = avatarUrl;
        return Results.Json(body);
    }

    private static async Task<IResult> DirectoryAsync(HttpContext http, FederationOrigin origin, DirectoryStore directory, RoomReader rooms,
        ProcessSettings settings)
    {
        var text = http.Request.Query["room_alias"].ToString();
        if (text.Length == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'room_alias' is missing.");
        if (!RoomAlias.TryParse(text, out var alias)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{text}' is not a room alias.");
        if (alias.Server.ToString() != settings.ServerName) throw new MatrixException(400, "M_INVALID_PARAM", "The room alias is not hosted on this server.");
        var record = await directory.FindAliasAsync(alias.ToString()) ?? throw MatrixException.NotFound("Room alias not found.");
        // Synapse lists this server first, then the other servers with joined members.
        var servers = new List<string> { settings.ServerName };
        servers.AddRange((await rooms.GetJoinedServersAsync(record.RoomId, http.RequestAborted)).Where(s => s != settings.ServerName));
        return Results.Json(new JsonObject { ["room_id"] = record.RoomId, ["servers"] = new JsonArray([.. servers.Select(s => JsonValue.Create(s))]) });
    }
}
