using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>
/// One user's history in one room, each part read once and only when a question needs it: the room's
/// history_visibility changes and the user's membership changes in room order (read up front), when
/// they forgot the room, and whether the room exists here. The rules are <see cref="HistoryVisibility"/>'s.
/// </summary>
public sealed class RoomHistoryOfUser(IReadOnlyList<(long RoomSeq, string Type, string Value)> changes, RoomReader rooms, string roomId, string userId)
{
    private long? _forgottenAt;
    private bool _forgottenRead;
    private bool? _roomKnown;

    private readonly List<(long RoomSeq, string Type, string Value)> _visibilities = changes.Where(c => c.Type == "m.room.history_visibility").ToList();
    private readonly List<(long RoomSeq, string Type, string Value)> _memberships = changes.Where(c => c.Type == "m.room.member").ToList();

    private string CurrentVisibility => _visibilities.Count > 0 ? _visibilities[^1].Value : "shared";

    private async Task<long?> ForgottenAtAsync()
    {
        if (!_forgottenRead) (_forgottenAt, _forgottenRead) = (await rooms.GetForgottenAtAsync(roomId, userId), true);
        return _forgottenAt;
    }

    private async Task RequireRoomKnownAsync()
    {
        _roomKnown ??= await rooms.GetRoomVersionAsync(roomId) is not null;
        if (_roomKnown is false) throw MatrixException.NotFound("Unknown room.");
    }

    /// <summary>What the user is served of the room's events; 404 for an unknown room, 403 for one they may not read.</summary>
    public async Task<EventView> EventsAsync()
    {
        await RequireRoomKnownAsync();
        var forgottenAt = await ForgottenAtAsync();
        var currentMembership = _memberships.Count > 0 ? _memberships[^1].Value : null;
        var forgotten = forgottenAt is { } at && _memberships.Count > 0 && _memberships[^1].RoomSeq <= at;
        if ((_memberships.Count == 0 || forgotten) && CurrentVisibility != "world_readable")
        {
            throw MatrixException.Forbidden("You are not in this room and its history is not world-readable.");
        }

        return row =>
        {
            var membership = Last(_memberships, row.RoomSeq, inclusive: true);
            if (!Shows(row, membership)) return null;
            return row.SenderErased && membership != "join" ? row with { ServedPruned = true } : row;
        };

        bool Shows(RoomEventRow row, string? membership)
        {
            var visibility = Last(_visibilities, row.RoomSeq, inclusive: false) ?? "shared";
            if (visibility == "world_readable") return true;
            if (membership == "join") return true;
            if (membership is "leave" or "ban" && _memberships.Any(m => m.RoomSeq == row.RoomSeq))
            {
                // The user's own leave, kick or ban, seen by whoever was in the room or invited to it until then, so the
                // room leaves their client (Synapse shows a user their own leave always, a rejected invite too).
                var before = Last(_memberships, row.RoomSeq, inclusive: false);
                if (before is "join" or "invite") return true;
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
    public async Task<long?> StateBoundaryAsync(bool joinedOnly = false)
    {
        if (_memberships is [.., (_, _, "join")]) return null;
        if (!joinedOnly && _memberships is [.., (var leftAt, _, "leave")] && (await ForgottenAtAsync() is not { } at || at < leftAt)) return leftAt + 1;
        if (_visibilities.Count > 0 && CurrentVisibility == "world_readable") return null;
        await RequireRoomKnownAsync();
        throw MatrixException.Forbidden("You are not in this room and its history is not world-readable.");
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
