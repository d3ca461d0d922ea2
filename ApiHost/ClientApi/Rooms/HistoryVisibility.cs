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
    /// <summary>The user's history in the room (their memberships, its visibilities), read once for every question below.</summary>
    public async Task<RoomHistoryOfUser> OfUserAsync(string roomId, string userId) =>
        new(await rooms.GetVisibilityTimelineAsync(roomId, userId), rooms, roomId, userId);

    /// <inheritdoc cref="RoomHistoryOfUser.EventsAsync"/>
    public async Task<EventView> ForUserAsync(string roomId, string userId) => await (await OfUserAsync(roomId, userId)).EventsAsync();

    /// <inheritdoc cref="RoomHistoryOfUser.StateBoundaryAsync"/>
    public async Task<long?> StateBoundaryAsync(string roomId, string userId, bool joinedOnly = false) =>
        await (await OfUserAsync(roomId, userId)).StateBoundaryAsync(joinedOnly);

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
}

/// <summary>What one user is served of a room's event: null when it is hidden from them, else the row as they see it.</summary>
public delegate RoomEventRow? EventView(RoomEventRow row);

public static class EventViews
{
    /// <summary>The rows the user may see, each as they see it.</summary>
    public static IEnumerable<RoomEventRow> SeenThrough(this IEnumerable<RoomEventRow> rows, EventView view) =>
        rows.Select(row => view(row)).OfType<RoomEventRow>();
}
