using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// A remote user leaving (or rejecting an invite, or withdrawing a knock) through this server
/// (server-server-api "Leaving Rooms (Rejecting Invites)"): make_leave gives the template on the room's
/// tips, send_leave takes it signed, through the same checks as any received event.
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
}
