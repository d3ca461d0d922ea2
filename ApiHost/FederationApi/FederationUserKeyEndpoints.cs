using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.EndToEnd;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// What other servers ask about this server's users' devices and keys (server-server-api "End-to-End
/// Encryption"): <c>/user/devices</c>, <c>/user/keys/query</c> and <c>/user/keys/claim</c>, answered from
/// the same store and claim code as the client's /keys/*. As in Synapse, a user of another server is 400,
/// device names are not shared, and a user without devices has an empty list.
/// </summary>
public static class FederationUserKeyEndpoints
{
    /// <summary>Users a query, or (user, device) pairs a claim, may name: Synapse sets none, but one request should not read unbounded rows.</summary>
    public const int MaxItemsPerRequest = 1000;

    public static IEndpointRouteBuilder MapFederationUserKeyApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_matrix/federation/v1/user/devices/{userId}", DevicesAsync);
        app.MapPost("/_matrix/federation/v1/user/keys/query", QueryAsync);
        app.MapPost("/_matrix/federation/v1/user/keys/claim", ClaimAsync);
        return app;
    }

    private static async Task<IResult> DevicesAsync(HttpContext http, string userId, FederationOrigin origin, EndToEndKeyStore keys,
        ProcessSettings settings)
    {
        var user = LocalUser(userId, settings);
        // The position is read first: a change landing meanwhile makes the next stream_id larger, never hidden behind this one.
        var streamId = await keys.GetLatestChangeAsync(user, http.RequestAborted);
        var found = await LocalKeyQuery.QueryAsync(keys, new Dictionary<string, HashSet<string>?> { [user] = null }, viewer: null,
            includeDisplayNames: false, http.RequestAborted);
        var devices = new JsonArray();
        foreach (var (deviceId, key) in found["device_keys"]![user]!.AsObject())
        {
            devices.Add(new JsonObject { ["device_id"] = deviceId, ["keys"] = key!.DeepClone() });
        }
        var body = new JsonObject { ["user_id"] = user, ["stream_id"] = streamId, ["devices"] = devices };
        if (found["master_keys"]![user] is { } master) body["master_key"] = master.DeepClone();
        if (found["self_signing_keys"]![user] is { } selfSigning) body["self_signing_key"] = selfSigning.DeepClone();
        return Results.Json(body);
    }

    private static async Task<IResult> QueryAsync(HttpContext http, FederationOrigin origin, EndToEndKeyStore keys, ProcessSettings settings)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var requested = body.OptionalObject("device_keys") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'device_keys' is missing.");
        if (requested.Count > MaxItemsPerRequest) throw TooLarge("users");
        var wanted = new Dictionary<string, HashSet<string>?>(StringComparer.Ordinal);
        foreach (var (userText, devices) in requested)
        {
            wanted[LocalUser(userText, settings)] = devices switch
            {
                null => null,
                JsonArray { Count: 0 } => null,
                JsonArray list => list.Select(d => d is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw MatrixException.BadJson("Device IDs must be strings."))
                    .ToHashSet(StringComparer.Ordinal),
                _ => throw MatrixException.BadJson("Each user in 'device_keys' maps to a list of device IDs."),
            };
        }
        var response = await LocalKeyQuery.QueryAsync(keys, wanted, viewer: null, includeDisplayNames: false, http.RequestAborted);
        return Results.Json(response);
    }

    private static async Task<IResult> ClaimAsync(HttpContext http, FederationOrigin origin, IGrainFactory grains, ProcessSettings settings)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var requested = body.OptionalObject("one_time_keys") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'one_time_keys' is missing.");
        var byUser = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var pairs = 0;
        foreach (var (userText, devices) in requested)
        {
            var user = LocalUser(userText, settings);
            if (devices is not JsonObject byDevice) throw MatrixException.BadJson("Each user in 'one_time_keys' maps device IDs to algorithms.");
            if ((pairs += byDevice.Count) > MaxItemsPerRequest) throw TooLarge("devices");
            byUser[user] = byDevice.ToDictionary(kv => kv.Key,
                kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var a) ? a : throw MatrixException.BadJson("Algorithms must be strings."),
                StringComparer.Ordinal);
        }
        var claimed = new JsonObject();
        foreach (var (user, algorithms) in byUser)
        {
            var keys = await grains.GetGrain<IEndToEndKeysGrain>(user).ClaimKeysAsync(algorithms, http.RequestAborted);
            // As Synapse answers: only users with a key claimed appear.
            if (keys.Count > 0) claimed[user] = keys;
        }
        return Results.Json(new JsonObject { ["one_time_keys"] = claimed });
    }

    /// <summary>A user of this server; any other is refused as Synapse refuses it (400), before any work is done.</summary>
    private static string LocalUser(string text, ProcessSettings settings)
    {
        var user = RoomPaths.UserIdFrom(text);
        if (UserId.Parse(user).Server.ToString() != settings.ServerName) throw new MatrixException(400, "M_INVALID_PARAM", "The user is not hosted on this server.");
        return user;
    }

    private static MatrixException TooLarge(string what) =>
        new(400, "M_TOO_LARGE", $"A request may name at most {MaxItemsPerRequest} {what}.");
}
