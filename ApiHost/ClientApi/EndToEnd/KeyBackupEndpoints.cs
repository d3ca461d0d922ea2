using Homeserver.Protocol;
using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.EndToEnd;

/// <summary>Server-side key backup: /room_keys/version and /room_keys/keys.</summary>
public static class KeyBackupEndpoints
{
    public static IEndpointRouteBuilder MapKeyBackupApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}/room_keys";
            app.MapPost($"{prefix}/version", CreateVersionAsync);
            app.MapGet($"{prefix}/version", (HttpContext h, AccessTokenAuthentication a, KeyBackupStore s) => GetVersionAsync(h, null, a, s));
            app.MapGet($"{prefix}/version/{{version}}", GetVersionAsync);
            app.MapPut($"{prefix}/version/{{version}}", UpdateVersionAsync);
            app.MapDelete($"{prefix}/version/{{version}}", DeleteVersionAsync);
            app.MapPut($"{prefix}/keys", (HttpContext h, AccessTokenAuthentication a, IGrainFactory g) => PutKeysAsync(h, null, null, a, g));
            app.MapPut($"{prefix}/keys/{{roomId}}", (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) => PutKeysAsync(h, roomId, null, a, g));
            app.MapPut($"{prefix}/keys/{{roomId}}/{{sessionId}}", PutKeysAsync);
            app.MapGet($"{prefix}/keys", (HttpContext h, AccessTokenAuthentication a, KeyBackupStore s) => GetKeysAsync(h, null, null, a, s));
            app.MapGet($"{prefix}/keys/{{roomId}}", (HttpContext h, string roomId, AccessTokenAuthentication a, KeyBackupStore s) => GetKeysAsync(h, roomId, null, a, s));
            app.MapGet($"{prefix}/keys/{{roomId}}/{{sessionId}}", GetKeysAsync);
            app.MapDelete($"{prefix}/keys", (HttpContext h, AccessTokenAuthentication a, IGrainFactory g) => DeleteKeysAsync(h, null, null, a, g));
            app.MapDelete($"{prefix}/keys/{{roomId}}", (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) => DeleteKeysAsync(h, roomId, null, a, g));
            app.MapDelete($"{prefix}/keys/{{roomId}}/{{sessionId}}", DeleteKeysAsync);
        }
        return app;
    }

    private static async Task<IResult> CreateVersionAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var algorithm = body.RequiredString("algorithm");
        var authData = body.OptionalObject("auth_data") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'auth_data' is missing.");
        var version = await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).CreateBackupVersionAsync(algorithm, authData, http.RequestAborted);
        return Results.Json(new JsonObject { ["version"] = version.ToString(CultureInfo.InvariantCulture) });
    }

    private static async Task<IResult> GetVersionAsync(HttpContext http, string? version, AccessTokenAuthentication auth, KeyBackupStore backups)
    {
        var user = await auth.RequireUserAsync(http);
        var found = await backups.GetVersionAsync(user.UserId, version is null ? null : ParseVersion(version))
            ?? throw MatrixException.NotFound("No current backup version.");
        return Results.Json(new JsonObject
        {
            ["algorithm"] = found.Algorithm,
            ["auth_data"] = StoredJson.Parse(found.AuthData),
            ["count"] = found.Count,
            ["etag"] = found.Etag.ToString(CultureInfo.InvariantCulture),
            ["version"] = found.Version.ToString(CultureInfo.InvariantCulture),
        });
    }

    private static async Task<IResult> UpdateVersionAsync(HttpContext http, string version, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var number = ParseVersion(version);
        if (body.OptionalString("version") is { } named && named != version)
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "The body's 'version' does not match the path.");
        }
        var authData = body.OptionalObject("auth_data") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'auth_data' is missing.");
        await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).UpdateBackupVersionAsync(number, body.RequiredString("algorithm"), authData, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> DeleteVersionAsync(HttpContext http, string version, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).DeleteBackupVersionAsync(ParseVersion(version), http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> PutKeysAsync(HttpContext http, string? roomId, string? sessionId, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var version = ParseVersion(http.Request.Query["version"].ToString());
        var body = await JsonBody.ReadObjectAsync(http.Request);
        // The three paths carry the same data at different depths; bring each to {room: {sessions: {id: data}}}.
        var rooms = roomId is null
            ? body.OptionalObject("rooms") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'rooms' is missing.")
            : new JsonObject
            {
                [RoomPaths.RoomIdFrom(roomId)] = sessionId is null
                    ? new JsonObject { ["sessions"] = (body.OptionalObject("sessions") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'sessions' is missing.")).DeepClone() }
                    : new JsonObject { ["sessions"] = new JsonObject { [sessionId] = body.DeepClone() } },
            };
        var counts = await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).PutBackupKeysAsync(version, rooms, http.RequestAborted);
        return Results.Json(new JsonObject { ["etag"] = counts.Etag, ["count"] = counts.Count });
    }

    private static async Task<IResult> GetKeysAsync(HttpContext http, string? roomId, string? sessionId, AccessTokenAuthentication auth, KeyBackupStore backups)
    {
        var user = await auth.RequireUserAsync(http);
        var version = ParseVersion(http.Request.Query["version"].ToString());
        if (await backups.GetVersionAsync(user.UserId, version) is null) throw MatrixException.NotFound("No such backup version.");
        var sessions = await backups.GetSessionsAsync(user.UserId, version, roomId, sessionId);
        if (sessionId is not null)
        {
            return sessions.Count == 0 ? throw MatrixException.NotFound("No such session in the backup.") : Results.Json(Format(sessions[0]));
        }
        var rooms = new JsonObject();
        foreach (var room in sessions.GroupBy(s => s.RoomId))
        {
            rooms[room.Key] = new JsonObject { ["sessions"] = new JsonObject(room.Select(s => KeyValuePair.Create(s.SessionId, (JsonNode?)Format(s)))) };
        }
        if (roomId is not null) return Results.Json(rooms[roomId] ?? new JsonObject { ["sessions"] = new JsonObject() });
        return Results.Json(new JsonObject { ["rooms"] = rooms });
    }

    private static async Task<IResult> DeleteKeysAsync(HttpContext http, string? roomId, string? sessionId, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var version = ParseVersion(http.Request.Query["version"].ToString());
        var counts = await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).DeleteBackupKeysAsync(version, roomId, sessionId, http.RequestAborted);
        return Results.Json(new JsonObject { ["etag"] = counts.Etag, ["count"] = counts.Count });
    }

    private static JsonObject Format(BackedUpSession s) => new()
    {
        ["first_message_index"] = s.FirstMessageIndex,
        ["forwarded_count"] = s.ForwardedCount,
        ["is_verified"] = s.IsVerified,
        ["session_data"] = StoredJson.Parse(s.SessionData),
    };

    private static long ParseVersion(string text) =>
        text.Length == 0 ? throw new MatrixException(400, "M_MISSING_PARAM", "'version' is missing.")
        : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
        : throw MatrixException.NotFound("No such backup version.");
}
