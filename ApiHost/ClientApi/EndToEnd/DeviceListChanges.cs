using Homeserver.Protocol;
using Homeserver.Storage.EndToEnd;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.EndToEnd;

/// <summary>
/// Whose device lists a user must re-read, and whom they stopped sharing a room with, between two
/// positions: <c>device_lists</c> in /sync and /keys/changes. Changed: users who share a room and
/// changed a device or cross-signing key, the user themself when their own list changed, users who
/// joined a shared room, and everyone in a room the user joined. Left: users no longer sharing any
/// room, because they left or because the user did.
/// </summary>
public sealed class DeviceListChanges(EndToEndKeyStore keys, RoomReader rooms)
{
    public async Task<(IReadOnlyCollection<string> Changed, IReadOnlyCollection<string> Left)> ComputeAsync(string userId, long fromPosition,
        long toPosition, IReadOnlyCollection<string> peers, IEnumerable<RoomEventRow> roomEvents, IReadOnlyCollection<string> joined,
        IReadOnlyCollection<string> joinedNowRooms)
    {
        var changed = new HashSet<string>(await keys.GetChangedUsersAsync(peers, fromPosition, toPosition), StringComparer.Ordinal);
        var ownListChanged = changed.Contains(userId);
        var departed = new HashSet<string>(StringComparer.Ordinal);
        var roomsUserLeft = new List<string>();
        foreach (var e in roomEvents)
        {
            var pdu = StoredJson.Parse(e.Json);
            if (pdu?["type"]?.ToString() != "m.room.member" || pdu["state_key"]?.ToString() is not { } member) continue;
            var membership = pdu["content"]?["membership"]?.ToString();
            if (membership == "join" && joined.Contains(e.RoomId)) changed.Add(member);
            else if (membership is "leave" or "ban" && member == userId) roomsUserLeft.Add(e.RoomId);
            else if (membership is "leave" or "ban") departed.Add(member);
        }
        foreach (var roomId in joinedNowRooms)
        {
            foreach (var row in await rooms.GetCurrentStateAsync(roomId, "m.room.member"))
            {
                if (StoredJson.Parse(row.Json)?["state_key"]?.ToString() is { } member) changed.Add(member);
            }
        }
        // The user's own join is no news; their own new device or key is (Synapse lists the user then).
        if (!ownListChanged) changed.Remove(userId);
        // Leaving a room departs from everyone in it who shares no other room with the user.
        foreach (var roomId in roomsUserLeft.Where(r => !joined.Contains(r)).Distinct(StringComparer.Ordinal))
        {
            foreach (var row in await rooms.GetCurrentStateAsync(roomId, "m.room.member"))
            {
                if (StoredJson.Parse(row.Json)?["state_key"]?.ToString() is { } member) departed.Add(member);
            }
        }
        var left = departed.Where(u => !peers.Contains(u)).ToHashSet(StringComparer.Ordinal);
        changed.ExceptWith(left);
        return (changed, left);
    }
}
