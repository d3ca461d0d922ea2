using System.Collections.Concurrent;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The member events each device was sent while lazy loading, so that incremental syncs leave out
/// the ones it already has (the filter's <c>include_redundant_members</c> defaults to false). Each is
/// remembered with the events position of the response that carried it, and counts as known only to
/// a sync whose token is at or past that position: a client retrying an older token never got that
/// response, and gets the members again. Forgetting is always safe (the spec allows redundant members),
/// so the memory is bounded by dropping whole devices, and a host that never answered a device sends all.
/// </summary>
public sealed class LazyLoadedMembers
{
    private const int MaxDevices = 20_000;
    private const int MaxMembersPerDevice = 10_000;
    private readonly ConcurrentDictionary<(string UserId, string DeviceId), Dictionary<(string RoomId, string Member), (string EventId, long SentAt)>> _devices = new();

    /// <summary>Whether a sync from <paramref name="sinceEvents"/> may take it that the device has this member event.</summary>
    public bool Knows(string userId, string deviceId, string roomId, string member, string eventId, long sinceEvents)
    {
        if (!_devices.TryGetValue((userId, deviceId), out var sent)) return false;
        lock (sent) return sent.TryGetValue((roomId, member), out var known) && known.EventId == eventId && known.SentAt <= sinceEvents;
    }

    /// <summary>Whether the device was sent some member event of <paramref name="member"/> in a response at or before <paramref name="sinceEvents"/>.</summary>
    public bool KnowsMember(string userId, string deviceId, string roomId, string member, long sinceEvents)
    {
        if (!_devices.TryGetValue((userId, deviceId), out var sent)) return false;
        lock (sent) return sent.TryGetValue((roomId, member), out var known) && known.SentAt <= sinceEvents;
    }

    /// <summary>An initial sync: the client starts afresh and has no members yet.</summary>
    public void Forget(string userId, string deviceId) => _devices.TryRemove((userId, deviceId), out _);

    /// <summary>The member events (room, member, event) a response answered with events position <paramref name="sentAt"/> carries.</summary>
    public void Remember(string userId, string deviceId, IEnumerable<(string RoomId, string Member, string EventId)> members, long sentAt)
    {
        if (_devices.Count >= MaxDevices) _devices.Clear();
        var sent = _devices.GetOrAdd((userId, deviceId), _ => []);
        lock (sent)
        {
            foreach (var (roomId, member, eventId) in members)
            {
                // A later answer to an older token must not make a member look older than it is to the client.
                if (sent.TryGetValue((roomId, member), out var known) && known.EventId == eventId && known.SentAt <= sentAt) continue;
                sent[(roomId, member)] = (eventId, sentAt);
            }
            if (sent.Count > MaxMembersPerDevice) sent.Clear();
        }
    }
}
