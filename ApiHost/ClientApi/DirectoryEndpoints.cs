using Homeserver.Protocol;
using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Federation;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Transport;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Orleans;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>Room aliases, the room directory visibility and /publicRooms.</summary>
public static class DirectoryEndpoints
{
    public static IEndpointRouteBuilder MapDirectoryApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}";
            app.MapPut($"{prefix}/directory/room/{{alias}}", CreateAliasAsync);
            app.MapGet($"{prefix}/directory/room/{{alias}}", ResolveAliasAsync);
            app.MapDelete($"{prefix}/directory/room/{{alias}}", DeleteAliasAsync);
            app.MapGet($"{prefix}/rooms/{{roomId}}/aliases", ListAliasesAsync);
            app.MapGet($"{prefix}/directory/list/room/{{roomId}}", GetVisibilityAsync);
            app.MapPut($"{prefix}/directory/list/room/{{roomId}}", SetVisibilityAsync);
            app.MapGet($"{prefix}/publicRooms", GetPublicRoomsAsync);
            app.MapPost($"{prefix}/publicRooms", PostPublicRoomsAsync).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> CreateAliasAsync(HttpContext http, string alias, AccessTokenAuthentication auth, RoomAliases aliases,
        RoomReader rooms, DirectoryStore directory, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var name = aliases.LocalAlias(alias);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var roomId = RoomPaths.RoomIdFrom(body.RequiredString("room_id"));
        if (await rooms.GetMembershipAsync(roomId, user.UserId) != "join")
        {
            if (await rooms.GetRoomVersionAsync(roomId) is null) throw MatrixException.NotFound("Unknown room.");
            throw MatrixException.Forbidden("You must be joined to the room to give it an alias.");
        }
        if (!await directory.CreateAliasAsync(name, roomId, user.UserId, clock.GetUtcNow().ToUnixTimeMilliseconds()))
        {
            throw new MatrixException(409, "M_UNKNOWN", $"Room alias {name} already exists.");
        }
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> ResolveAliasAsync(HttpContext http, string alias, RoomAliases aliases, DirectoryStore directory,
        ProcessSettings settings, RemoteServerQueries remote)
    {
        if (RoomAlias.TryParse(alias, out var parsed) && parsed.Server.ToString() is var server && server != settings.ServerName)
        {
            var (roomId, servers) = await remote.ResolveAliasAsync(server, parsed.ToString(), http.RequestAborted);
            return Results.Json(new JsonObject { ["room_id"] = roomId, ["servers"] = new JsonArray([.. servers.Select(n => JsonValue.Create(n))]) });
        }
        var record = await directory.FindAliasAsync(aliases.LocalAlias(alias)) ?? throw MatrixException.NotFound($"Room alias {alias} not found.");
        return Results.Json(new { room_id = record.RoomId, servers = new[] { settings.ServerName } });
    }

    private static async Task<IResult> DeleteAliasAsync(HttpContext http, string alias, AccessTokenAuthentication auth, RoomAliases aliases,
        DirectoryStore directory, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var record = await directory.FindAliasAsync(aliases.LocalAlias(alias)) ?? throw MatrixException.NotFound($"Room alias {alias} not found.");
        if (record.Creator != user.UserId)
        {
            var power = await aliases.PowerLevelsAsync(record.RoomId);
            if (power.UserLevel(user.UserId) < power.RequiredFor("m.room.canonical_alias", isState: true))
            {
                throw MatrixException.Forbidden("Only the alias's creator or a room moderator can delete it.");
            }
        }
        await directory.DeleteAliasAsync(record.Alias);
        await aliases.RemoveFromCanonicalAliasAsync(record.RoomId, record.Alias, user.UserId, grains, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    /// <summary>For members and, in a world-readable room, anyone (spec: 403 otherwise).</summary>
    private static async Task<IResult> ListAliasesAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, HistoryVisibility history,
        DirectoryStore directory)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        await history.StateBoundaryAsync(room, user.UserId, joinedOnly: true);
        return Results.Json(new { aliases = await directory.GetAliasesAsync(room) });
    }

    private static async Task<IResult> GetVisibilityAsync(string roomId, RoomReader rooms, DirectoryStore directory)
    {
        var room = RoomPaths.RoomIdFrom(roomId);
        if (await rooms.GetRoomVersionAsync(room) is null) throw MatrixException.NotFound("Unknown room.");
        return Results.Json(new { visibility = await directory.IsPublishedAsync(room) ? "public" : "private" });
    }

    private static async Task<IResult> SetVisibilityAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, RoomAliases aliases,
        RoomReader rooms, DirectoryStore directory, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var room = RoomPaths.RoomIdFrom(roomId);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var visibility = body.OptionalString("visibility") ?? "public";
        if (visibility is not ("public" or "private")) throw new MatrixException(400, "M_INVALID_PARAM", "'visibility' must be public or private.");
        await EventEndpoints.RequireJoinedAsync(rooms, room, user.UserId);
        var power = await aliases.PowerLevelsAsync(room);
        if (power.UserLevel(user.UserId) < power.RequiredFor("m.room.canonical_alias", isState: true))
        {
            throw MatrixException.Forbidden("Publishing a room needs the power to set its canonical alias.");
        }
        await directory.SetPublishedAsync(room, visibility == "public", clock.GetUtcNow().ToUnixTimeMilliseconds());
        return Results.Json(new JsonObject());
    }

    /// <summary>Spec: open without an access token, unless another server is asked (Synapse asks for one then).</summary>
    private static async Task<IResult> GetPublicRoomsAsync(HttpContext http, AccessTokenAuthentication auth, DirectoryStore directory,
        ProcessSettings settings, RemoteServerQueries remote)
    {
        var query = PublicRoomsQuery.FromQueryString(http.Request.Query);
        if (RemoteDirectory(http, settings) is not { } server) return Results.Json(await PublicRoomList.LocalAsync(directory, query));
        await auth.RequireUserAsync(http);
        var parameters = new List<string>();
        if (query.Limit is { } limit) parameters.Add($"limit={limit}");
        if (query.Since is { } since) parameters.Add($"since={Uri.EscapeDataString(since)}");
        if (query.IncludeAllNetworks) parameters.Add("include_all_networks=true");
        if (query.ThirdPartyInstanceId is { } network) parameters.Add($"third_party_instance_id={Uri.EscapeDataString(network)}");
        var path = "/_matrix/federation/v1/publicRooms" + (parameters.Count == 0 ? "" : "?" + string.Join('&', parameters));
        return Results.Json(await RemotePublicRoomsAsync(remote, new FederationRequest(HttpMethod.Get, server, path), http.RequestAborted));
    }

    private static async Task<IResult> PostPublicRoomsAsync(HttpContext http, AccessTokenAuthentication auth, DirectoryStore directory,
        ProcessSettings settings, RemoteServerQueries remote)
    {
        await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var query = PublicRoomsQuery.FromBody(body);
        if (RemoteDirectory(http, settings) is not { } server) return Results.Json(await PublicRoomList.LocalAsync(directory, query));
        return Results.Json(await RemotePublicRoomsAsync(remote, new FederationRequest(HttpMethod.Post, server, "/_matrix/federation/v1/publicRooms", body),
            http.RequestAborted));
    }

    /// <summary>The <c>server</c> parameter when it names another server (null: this one's own list).</summary>
    private static string? RemoteDirectory(HttpContext http, ProcessSettings settings)
    {
        var server = http.Request.Query["server"].ToString();
        if (server.Length == 0 || server == settings.ServerName) return null;
        return ServerName.TryParse(server, out _) ? server : throw new MatrixException(400, "M_INVALID_PARAM", $"'{server}' is not a server name.");
    }

    /// <summary>Another server's list as it sent it; its 4xx Matrix errors (403 when it keeps its list to itself) reach the client.</summary>
    private static async Task<JsonObject> RemotePublicRoomsAsync(RemoteServerQueries remote, FederationRequest request, CancellationToken cancellationToken)
    {
        var response = await remote.SendAsync(request, "Failed to fetch the server's room directory", cancellationToken);
        if (!response.IsSuccess) throw RemoteServerQueries.Relayed(response, "The server refused to give its room directory.");
        var body = response.Body!.AsObject();
        if (body["chunk"] is not JsonArray) throw RemoteServerQueries.BadGateway("The server's room directory has no 'chunk'.");
        return body;
    }
}
