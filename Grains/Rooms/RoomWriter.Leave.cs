using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// A remote user leaving (or rejecting an invite, or withdrawing a knock) through this server
/// (server-server-api "Leaving Rooms (Rejecting Invites)"): make_leave gives the template on the room's
/// tips, send_leave takes it signed, through the same checks as any received event. Knocks
/// (make_knock, send_knock) go the same way.
/// </summary>
public sealed partial class RoomWriter
{
    public Task<JoinTemplate> MakeLeaveAsync(string userId)
    {
        var state = _state ?? throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        if (state.Version.EventIdsAreServerScoped)
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Leaves over federation from rooms of version {state.Version.Id} are not supported here yet.");
        }
        return Task.FromResult(new JoinTemplate(state.Version.Id, MembershipTemplate(state, userId, "leave")));
    }

    public async Task SendLeaveAsync(ReceivedPdu leave)
    {
        if (_state is null) throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        var pdu = leave.Pdu;
        if (Text(pdu["type"]) != "m.room.member" || Text(pdu["content"]?["membership"]) != "leave" || Text(pdu["state_key"]) != Text(pdu["sender"]))
        {
            throw MatrixException.BadJson("send_leave takes the leave event of its sender.");
        }
        var (outcome, _) = await ReceiveAsync(leave);
        if (outcome.Error is { } error) throw MatrixException.BadJson($"The leave cannot be taken: {error}.");
        if (!outcome.Accepted) throw MatrixException.Forbidden($"The leave was not allowed ({outcome.Status}: {outcome.Reason}).");
    }

    /// <summary>make_knock: a knock of a remote user on the room's tips, if the room's version and join rule let them knock.</summary>
    public Task<JoinTemplate> MakeKnockAsync(string userId, IReadOnlyList<string> supportedRoomVersions)
    {
        var state = _state ?? throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        var version = state.Version;
        if (!supportedRoomVersions.Contains(version.Id, StringComparer.Ordinal) || !version.KnockAllowed)
        {
            throw new MatrixException(400, "M_INCOMPATIBLE_ROOM_VERSION", $"The room is of version {version.Id}, which the knocking server does not support or which has no knocking.");
        }
        return Task.FromResult(new JoinTemplate(version.Id, MembershipTemplate(state, userId, "knock")));
    }

    /// <summary>send_knock: the signed knock of a remote user, through the received-event checks; 403 when the room refuses it.</summary>
    public async Task SendKnockAsync(ReceivedPdu knock)
    {
        if (_state is null) throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        var pdu = knock.Pdu;
        if (Text(pdu["type"]) != "m.room.member" || Text(pdu["content"]?["membership"]) != "knock" || Text(pdu["state_key"]) != Text(pdu["sender"]))
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "send_knock takes the knock event of its sender.");
        }
        var (outcome, _) = await ReceiveAsync(knock);
        if (outcome.Error is { } error) throw new MatrixException(400, "M_INVALID_PARAM", $"The knock cannot be taken: {error}.");
        if (!outcome.Accepted) throw MatrixException.Forbidden($"The knock was not allowed ({outcome.Status}: {outcome.Reason}).");
    }
}
