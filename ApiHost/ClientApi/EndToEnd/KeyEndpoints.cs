using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Federation;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.ClientApi.Sync;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.EndToEnd;
using Homeserver.Storage.Sync;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.EndToEnd;

/// <summary>/keys/*: device and one-time keys, cross-signing keys and signatures, and which users' keys changed.</summary>
public static class KeyEndpoints
{
    public static IEndpointRouteBuilder MapKeyApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}/keys";
            app.MapPost($"{prefix}/upload", UploadAsync).AllowGuests();
            app.MapPost($"{prefix}/query", QueryAsync).AllowGuests();
            app.MapPost($"{prefix}/claim", ClaimAsync).AllowGuests();
            app.MapGet($"{prefix}/changes", ChangesAsync).AllowGuests();
            app.MapPost($"{prefix}/device_signing/upload", UploadCrossSigningAsync);
            app.MapPost($"{prefix}/signatures/upload", UploadSignaturesAsync).AllowGuests();
        }
        // Cross-signing arrived in the unstable prefix first; clients of that time still call it there.
        app.MapPost("/_matrix/client/unstable/keys/device_signing/upload", UploadCrossSigningAsync);
        app.MapPost("/_matrix/client/unstable/keys/signatures/upload", UploadSignaturesAsync).AllowGuests();
        return app;
    }

    private static async Task<IResult> UploadAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var counts = await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).UploadKeysAsync(user.DeviceId, body.OptionalObject("device_keys"),
            body.OptionalObject("one_time_keys"), body.OptionalObject("fallback_keys") ?? body.OptionalObject("org.matrix.msc2732.fallback_keys"), http.RequestAborted);
        return Results.Json(new JsonObject { ["one_time_key_counts"] = Counts(counts) });
    }

    /// <summary>One-time key counts as clients expect them: signed_curve25519 always present (0 when none), as Synapse does.</summary>
    /// <summary>The user's server when it is not this one (their keys would need federation).</summary>
    private static string? RemoteServer(string userId, ProcessSettings settings) =>
        UserId.Parse(userId).Server.ToString() is var server && server != settings.ServerName ? server : null;

    /// <summary>The client's <c>timeout</c> for other servers' answers, in milliseconds (10 s when absent).</summary>
    private static TimeSpan Timeout(JsonObject body) => body["timeout"] is JsonValue t && t.TryGetValue<long>(out var ms) && ms >= 0
        ? TimeSpan.FromMilliseconds(Math.Min(ms, 60_000))
        : RemoteKeys.DefaultTimeout;

    internal static JsonObject Counts(IReadOnlyDictionary<string, int> counts)
    {
        var json = new JsonObject(counts.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        json.TryAdd("signed_curve25519", 0);
        return json;
    }

    private static async Task<IResult> QueryAsync(HttpContext http, AccessTokenAuthentication auth, EndToEndKeyStore keys, ProcessSettings settings,
        RemoteKeys remoteKeys)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var requested = body.OptionalObject("device_keys") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'device_keys' is missing.");
        var wanted = new Dictionary<string, HashSet<string>?>(StringComparer.Ordinal);
        var failures = new JsonObject();
        var remote = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (userText, devices) in requested)
        {
            var userId = RoomPaths.UserIdFrom(userText, "device_keys");
            if (RemoteServer(userId, settings) is { } server)
            {
                if (devices is not (null or JsonArray)) throw MatrixException.BadJson("Each user in 'device_keys' maps to a list of device IDs.");
                if (!remote.TryGetValue(server, out var forServer)) remote[server] = forServer = new JsonObject();
                forServer[userId] = devices?.DeepClone() ?? new JsonArray();
                continue;
            }
            wanted[userId] = devices is JsonArray { Count: > 0 } list
                ? list.Select(d => d is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw MatrixException.BadJson("Device IDs must be strings."))
                    .ToHashSet(StringComparer.Ordinal)
                : null;
        }

        var response = await LocalKeyQuery.QueryAsync(keys, wanted, user.UserId, includeDisplayNames: true, http.RequestAborted);
        if (remote.Count > 0) await remoteKeys.QueryAsync(remote, Timeout(body), response, failures, http.RequestAborted);
        response["failures"] = failures;
        return Results.Json(response);
    }

    private static async Task<IResult> ClaimAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains, ProcessSettings settings,
        RemoteKeys remoteKeys)
    {
        await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var requested = body.OptionalObject("one_time_keys") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'one_time_keys' is missing.");
        var claimed = new JsonObject();
        var failures = new JsonObject();
        var remote = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (userText, devices) in requested)
        {
            var userId = RoomPaths.UserIdFrom(userText, "one_time_keys");
            if (devices is not JsonObject byDevice) throw MatrixException.BadJson("Each user in 'one_time_keys' maps device IDs to algorithms.");
            if (RemoteServer(userId, settings) is { } server)
            {
                if (byDevice.Any(d => d.Value is not JsonValue v || !v.TryGetValue<string>(out _))) throw MatrixException.BadJson("Algorithms must be strings.");
                if (!remote.TryGetValue(server, out var forServer)) remote[server] = forServer = new JsonObject();
                forServer[userId] = byDevice.DeepClone();
                continue;
            }
            var algorithms = byDevice.ToDictionary(kv => kv.Key,
                kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var a) ? a : throw MatrixException.BadJson("Algorithms must be strings."),
                StringComparer.Ordinal);
            claimed[userId] = await grains.GetGrain<IEndToEndKeysGrain>(userId).ClaimKeysAsync(algorithms, http.RequestAborted);
        }
        if (remote.Count > 0) await remoteKeys.ClaimAsync(remote, Timeout(body), claimed, failures, http.RequestAborted);
        return Results.Json(new JsonObject { ["one_time_keys"] = claimed, ["failures"] = failures });
    }

    /// <summary>The member events /keys/changes looks at, at most: a longer gap is better served by a full /keys/query.</summary>
    private const int MaxMemberEvents = 10_000;

    private static async Task<IResult> ChangesAsync(HttpContext http, AccessTokenAuthentication auth, DeviceListChanges deviceLists, SyncReader sync)
    {
        var user = await auth.RequireUserAsync(http);
        var from = SyncToken.Parse(http.Request.Query["from"].ToString() is { Length: > 0 } f ? f
            : throw new MatrixException(400, "M_MISSING_PARAM", "'from' is missing."), "from");
        var to = SyncToken.Parse(http.Request.Query["to"].ToString() is { Length: > 0 } t ? t
            : throw new MatrixException(400, "M_MISSING_PARAM", "'to' is missing."), "to");
        var peers = await sync.GetRoomPeersAsync(user.UserId);
        var joined = (await sync.GetRoomsAsync(user.UserId)).Where(r => r.Membership == "join").Select(r => r.RoomId).ToList();
        var leftRooms = to.Events > from.Events ? await sync.GetLeftRoomsAsync(user.UserId, from.Events, to.Events) : [];
        var memberEvents = await sync.GetStreamEventsAsync([.. joined, .. leftRooms.Select(l => l.RoomId)], from.Events, to.Events, MaxMemberEvents, "m.room.member");
        var joinedNow = memberEvents.Where(e => joined.Contains(e.RoomId) && StoredJson.Parse(e.Json) is { } pdu &&
                pdu["state_key"]?.ToString() == user.UserId && pdu["content"]?["membership"]?.ToString() == "join")
            .Select(e => e.RoomId).Distinct(StringComparer.Ordinal).ToList();
        var (changed, left) = await deviceLists.ComputeAsync(user.UserId, from.DeviceLists, to.DeviceLists, peers, memberEvents, joined, joinedNow);
        return Results.Json(new JsonObject
        {
            ["changed"] = new JsonArray(changed.Order(StringComparer.Ordinal).Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()),
            ["left"] = new JsonArray(left.Order(StringComparer.Ordinal).Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()),
        });
    }

    private static async Task<IResult> UploadCrossSigningAsync(HttpContext http, AccessTokenAuthentication auth, UserInteractiveAuth uia,
        EndToEndKeyStore keys, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var master = body.OptionalObject("master_key");
        var selfSigning = body.OptionalObject("self_signing_key");
        var userSigning = body.OptionalObject("user_signing_key");
        // As Synapse does: the first upload needs no re-authentication, and neither does re-sending the keys already stored.
        var stored = (await keys.GetCrossSigningKeysAsync([user.UserId])).ToDictionary(k => k.KeyType, k => k.Json, StringComparer.Ordinal);
        var unchanged = (master is null || Same(stored, "master", master)) && (selfSigning is null || Same(stored, "self_signing", selfSigning)) &&
            (userSigning is null || Same(stored, "user_signing", userSigning));
        if (stored.ContainsKey("master") && !unchanged) await uia.RequireAsync(http, body, UserInteractiveAuth.PasswordStages, user.UserId);
        if (!unchanged) await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).UploadCrossSigningKeysAsync(master, selfSigning, userSigning, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static bool Same(Dictionary<string, string> stored, string type, JsonObject key) =>
        stored.TryGetValue(type, out var json) && json == CanonicalJson.ToCanonicalString(key);

    private static async Task<IResult> UploadSignaturesAsync(HttpContext http, AccessTokenAuthentication auth, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var failures = await grains.GetGrain<IEndToEndKeysGrain>(user.UserId).UploadSignaturesAsync(body, http.RequestAborted);
        return Results.Json(new JsonObject { ["failures"] = failures });
    }
}
