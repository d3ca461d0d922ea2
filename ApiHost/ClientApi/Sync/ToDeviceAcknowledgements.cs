using System.Collections.Concurrent;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Remembers how far this host has acknowledged (deleted) each device's to-device messages, so a
/// sync whose token acknowledges nothing new costs no DELETE. Forgetting is always safe: the
/// DELETE is idempotent, so a host that restarts, or a device whose syncs move to another host,
/// only repeats one.
/// </summary>
public sealed class ToDeviceAcknowledgements
{
    private const int MaxDevices = 100_000;
    private readonly ConcurrentDictionary<(string UserId, string DeviceId), long> _acknowledged = new();

    /// <summary>True (and remembered) when <paramref name="upTo"/> goes past what this host acknowledged for the device.</summary>
    public bool ShouldAcknowledge(string userId, string deviceId, long upTo)
    {
        if (upTo <= 0) return false;
        var key = (userId, deviceId);
        if (_acknowledged.TryGetValue(key, out var done) && done >= upTo) return false;
        if (_acknowledged.Count >= MaxDevices) _acknowledged.Clear();
        _acknowledged[key] = upTo;
        return true;
    }
}
