using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>
/// Which events of a room a user may see (spec: "History visibility"). The visibility in force for
/// an event is the room's history_visibility before it; the user's membership at an event includes
/// the event itself, so a user sees their own join. Rules: world_readable shows everything; shared
/// shows everything to current members; invited shows what happened while invited or joined;
/// joined what happened while joined; a user who left sees their own leave. A user who was never in
/// a non-world-readable room, or who forgot it, gets 403. An event whose sender was erased is served
/// pruned to a user who was not joined when it was sent (Synapse's visibility.py does the same).
/// </summary>
public sealed class HistoryVisibility(RoomReader rooms)
{
    public async Task<EventView> ForUserAsync(string roomId, string userId)
    {
        if (await rooms.GetRoomVersionAsync(roomId) is null) throw MatrixException.NotFound("Unknown room.");
        var changes = await rooms.GetVisibilityTimelineAsync(roomId, userId);
        var visibilities = changes.Where(c => c.Type == "m.room.history_visibility").ToList();
        var memberships = changes.Where(c => c.Type == "m.room.member").ToList();
        var currentMembership = memberships.Count > 0 ? memberships[^1].Value : null;
        var currentVisibility = visibilities.Count > 0 ? visibilities[^1].Value : "shared";
        var forgottenAt = await rooms.GetForgottenAtAsync(roomId, userId);
        var forgotten = forgottenAt is { } at && memberships.Count > 0 && memberships[^1].RoomSeq <= at;
        if ((memberships.Count == 0 || forgotten) && currentVisibility != "world_readable")
        {
            throw MatrixException.Forbidden("You are not in this room and its history is not world-readable.");
        }

        return row =>
        {
            var membership = Last(memberships, row.RoomSeq, inclusive: true);
            if (!Shows(row, membership)) return null;
            return row.SenderErased && membership != "join" ? row with { ServedPruned = true } : row;
        };

        bool Shows(RoomEventRow row, string? membership)
        {
            var visibility = Last(visibilities, row.RoomSeq, inclusive: false) ?? "shared";
            if (visibility == "world_readable") return true;
            if (membership == "join") return true;
            if (membership == "leave" && memberships.Any(m => m.RoomSeq == row.RoomSeq))
            {
                // The user's own leave, seen by whoever was in the room until it (Synapse does so).
                var before = Last(memberships, row.RoomSeq, inclusive: false);
                if (before == "join" || (before == "invite" && visibility == "invited")) return true;
            }
            return visibility switch
            {
                "shared" => currentMembership == "join",
                "invited" => membership == "invite",
                _ => false,
            };
        }
    }

    /// <summary>
    /// Which state of the room the user may read (Synapse's check_user_in_room_or_world_readable with
    /// departed users allowed): a member the current state (null); a user who left, and has not
    /// forgotten the room, the state as their leave left it (the boundary after it); anyone else
    /// the current state of a world-readable room, and 403 otherwise. <paramref name="joinedOnly"/>
    /// refuses those who left (<c>/joined_members</c>).
    /// </summary>
    public async Task<long?> StateBoundaryAsync(string roomId, string userId, bool joinedOnly = false)
    {
        var changes = await rooms.GetVisibilityTimelineAsync(roomId, userId);
        var memberships = changes.Where(c => c.Type == "m.room.member").ToList();
        if (memberships is [.., (_, _, "join")]) return null;
        if (!joinedOnly && memberships is [.., (var leftAt, _, "leave")])
        {
            var forgottenAt = await rooms.GetForgottenAtAsync(roomId, userId);
            if (forgottenAt is not { } at || at < leftAt) return leftAt + 1;
        }
        if (changes.LastOrDefault(c => c.Type == "m.room.history_visibility").Value == "world_readable") return null;
        if (await rooms.GetRoomVersionAsync(roomId) is null) throw MatrixException.NotFound("Unknown room.");
        throw MatrixException.Forbidden("You are not in this room and its history is not world-readable.");
    }

    /// <summary>The room's state the user may read (see <see cref="StateBoundaryAsync"/>), optionally of one type and key.</summary>
    public async Task<IReadOnlyList<RoomEventRow>> ReadableStateAsync(string roomId, string userId, string? type = null, string? stateKey = null)
    {
        var boundary = await StateBoundaryAsync(roomId, userId);
        return boundary is { } before
            ? await rooms.GetStateBeforeAsync(roomId, before, type, stateKey)
            : await rooms.GetCurrentStateAsync(roomId, type, stateKey);
    }

    /// <summary>An event of the room that the user may see, as they see it, with their view of its neighbours; 404 otherwise, so its existence does not leak.</summary>
    public async Task<(RoomEventRow Event, EventView Visible)> RequireVisibleEventAsync(string roomId, string userId, string eventId)
    {
        EventView visible;
        try
        {
            visible = await ForUserAsync(roomId, userId);
        }
        catch (MatrixException e) when (e.StatusCode == 403)
        {
            throw MatrixException.NotFound("Event not found.");
        }
        var row = await rooms.GetEventAsync(eventId);
        if (row is null || row.RoomId != roomId || visible(row) is not { } seen) throw MatrixException.NotFound("Event not found.");
        return (seen, visible);
    }

    private static string? Last(List<(long RoomSeq, string Type, string Value)> changes, long roomSeq, bool inclusive)
    {
        string? value = null;
        foreach (var change in changes)
        {
            if (change.RoomSeq > roomSeq || (!inclusive && change.RoomSeq == roomSeq)) break;
            value = change.Value;
        }
        return value;
    }
}

/// <summary>What one user is served of a room's event: null when it is hidden from them, else the row as they see it.</summary>
public delegate RoomEventRow? EventView(RoomEventRow row);

public static class EventViews
{
    /// <summary>The rows the user may see, each as they see it.</summary>
    public static IEnumerable<RoomEventRow> SeenThrough(this IEnumerable<RoomEventRow> rows, EventView view) =>
        rows.Select(row => view(row)).OfType<RoomEventRow>();
}
