using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Storage.EndToEnd;

namespace Homeserver.Grains.EndToEnd;

/// <summary>A remote user's device list as their server's <c>/user/devices</c> answered it.</summary>
public sealed record DeviceListSnapshot(long StreamId, IReadOnlyList<RemoteDevice> Devices, string? CrossSigningJson);

/// <summary>
/// The receiving side of the <c>m.device_list_update</c> sequence (server-server-api "Device Management"): whether
/// updates can be applied to the cached list, and the snapshot a resync fetches, checked.
/// </summary>
public static class DeviceListChain
{
    /// <summary>A snapshot with more devices than this is refused (Synapse ignores such snapshots too): no peer makes us store unbounded rows.</summary>
    public const int MaxDevices = 1000;

    /// <summary>
    /// True unless every update is a repeat or follows what is known: the last update applied
    /// (<paramref name="extremity"/>), one applied since the last resync (<paramref name="seen"/>) or an
    /// earlier update of the batch. No list, a stale one, or an update without prev_id, needs a resync
    /// (Synapse's rule: with no prev_id, nothing says the sender's sequence is the one we followed).
    /// </summary>
    public static bool NeedsResync(RemoteDeviceListExtremity? extremity, IReadOnlySet<long> seen, IReadOnlyList<RemoteDeviceListUpdate> updates)
    {
        if (extremity is null || extremity.Stale) return true;
        var known = new HashSet<long>(seen) { extremity.StreamId };
        foreach (var update in updates)
        {
            if (known.Contains(update.StreamId)) continue;
            if (update.PrevIds.Count == 0 || !update.PrevIds.All(known.Contains)) return true;
            known.Add(update.StreamId);
        }
        return false;
    }

    /// <summary>The answer of <c>GET /user/devices/{userId}</c> if it is one for <paramref name="userId"/>, null otherwise.</summary>
    public static DeviceListSnapshot? ParseSnapshot(JsonNode? body, string userId)
    {
        if (body is not JsonObject answer || Text(answer["user_id"]) != userId) return null;
        if (answer["stream_id"] is not JsonValue s || !s.TryGetValue<long>(out var streamId)) return null;
        if (answer["devices"] is not JsonArray list || list.Count > MaxDevices) return null;
        var devices = new Dictionary<string, RemoteDevice>(StringComparer.Ordinal);
        foreach (var node in list)
        {
            if (node is not JsonObject given || Text(given["device_id"]) is not { } deviceId) continue;
            devices[deviceId] = new RemoteDevice(deviceId, Device(deviceId, given["keys"] as JsonObject, Text(given["device_display_name"])).ToJsonString());
        }
        var crossSigning = new JsonObject();
        if (answer["master_key"] is JsonObject master) crossSigning["master_key"] = master.DeepClone();
        if (answer["self_signing_key"] is JsonObject selfSigning) crossSigning["self_signing_key"] = selfSigning.DeepClone();
        return new DeviceListSnapshot(streamId, [.. devices.Values], crossSigning.Count == 0 ? null : crossSigning.ToJsonString());
    }

    /// <summary>A device as cached: the fields of the spec's device objects, nothing else a peer sent.</summary>
    public static JsonObject Device(string deviceId, JsonObject? keys, string? displayName)
    {
        var device = new JsonObject { ["device_id"] = deviceId };
        if (keys is not null) device["keys"] = keys.DeepClone();
        if (displayName is not null) device["device_display_name"] = displayName;
        return device;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
