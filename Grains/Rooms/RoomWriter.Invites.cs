using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// Invites across servers (server-server-api "Inviting to a room"). Ours of a remote user is built here,
/// signed by the invitee's server, and comes back as a received event. Another server's invite of our user
/// goes in as any received event when this server holds the room; otherwise (no one here is in the room)
/// it is kept as Synapse keeps it: an outlier that is the user's current membership, with the stripped
/// state it came with, so the invitee sees the invite and can join or reject it through the other server.
/// </summary>
public sealed partial class RoomWriter
{
    public Task<PreparedEvent> PrepareInviteAsync(SendEventCommand command)
    {
        var state = _state ?? throw MatrixException.NotFound($"Room {RoomId} does not exist.");
        if (command is not { Type: "m.room.member", StateKey: { } invitee } || Text(command.Content["membership"]) != "invite")
        {
            throw MatrixException.BadJson("Only invites are prepared for another server.");
        }
        var version = state.Version;
        if (ClientEventContent.Problem(command.Type, command.Content, version) is { } problem) throw MatrixException.BadJson($"{command.Type}: {problem}");
        var (eventId, pdu) = RoomEventBuilder.Build(server, version, RoomId, command.Sender, command.Type, invitee, command.Content, null,
            clock.GetUtcNow().ToUnixTimeMilliseconds(), state.MaxDepth + 1, state.ForwardExtremities,
            state.AuthEventsFor(command.Sender, command.Type, invitee, command.Content));
        var auth = AuthRules.Check(pdu, state.AuthState, version, state.StateEventCount);
        if (!auth.Allowed) throw MatrixException.Forbidden($"{command.Sender} may not invite {invitee}: {auth.Reason}.");
        return Task.FromResult(new PreparedEvent(version.Id, eventId, pdu));
    }

    public async Task ReceiveInviteAsync(RemoteInvite remote)
    {
        if (!RoomVersions.TryGet(remote.RoomVersion, out var version))
        {
            throw new MatrixException(400, "M_INCOMPATIBLE_ROOM_VERSION", $"Room version {remote.RoomVersion} is not supported here.");
        }
        var invite = remote.Invite.Pdu;
        var invitee = Text(invite["state_key"]);
        if (Text(invite["room_id"]) != RoomId || Text(invite["type"]) != "m.room.member" || Text(invite["content"]?["membership"]) != "invite" ||
            invitee is null || !UserId.TryParse(invitee, out var user) || user.Server.ToString() != server.ServerName)
        {
            throw MatrixException.BadJson("An invite names one of this server's users in its state_key.");
        }
        if (_state is { } known)
        {
            if (known.Version.Id != version.Id) throw new MatrixException(400, "M_INCOMPATIBLE_ROOM_VERSION", $"The room is of version {known.Version.Id} here.");
            if (known.AuthState.Create is not null)
            {
                var (outcome, _) = await ReceiveAsync(remote.Invite);
                if (outcome.Accepted) return;
                if (outcome.Error is null) throw MatrixException.Forbidden($"The invite is not allowed ({outcome.Status}: {outcome.Reason}).");
            }
            if (await dag.GetEventsAsync(RoomId, [remote.Invite.EventId]) is [_]) return;
        }

        var e = new NewEvent(remote.Invite.EventId, (_state?.LastRoomSeq ?? 0) + 1, invite["depth"]!.GetValue<long>(), "m.room.member", invitee,
            Text(invite["sender"])!, invite["origin_server_ts"]!.GetValue<long>(), "invite", CanonicalJson.ToCanonicalString(invite));
        var change = new DagChange([], [new DagEventRow(e.EventId, DagStatus.Outlier, null, null)], _state?.ForwardExtremities ?? [],
            _state?.CurrentStateGroup ?? 0, [new CurrentStateChange("m.room.member", invitee, e.EventId, "invite")]);
        var inviteState = new InviteRoomState(invitee, e.EventId, remote.InviteRoomStateJson);
        await PersistOutlierMembershipAsync(version, e, change, inviteState);
    }

    public Task CompleteRemoteKnockAsync(ReceivedPdu remote, string roomVersion, string knockRoomStateJson) =>
        CompleteOwnOutlierAsync(remote, roomVersion, "knock", knockRoomStateJson);

    public Task CompleteRemoteLeaveAsync(ReceivedPdu remote, string roomVersion) => CompleteOwnOutlierAsync(remote, roomVersion, "leave", null);

    /// <summary>A knock or leave of one of our users that a resident server took: kept as their membership, with the stripped state a knock came with.</summary>
    private async Task CompleteOwnOutlierAsync(ReceivedPdu remote, string roomVersion, string membership, string? strippedStateJson)
    {
        if (!RoomVersions.TryGet(roomVersion, out var version)) throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version {roomVersion} is not supported.");
        var pdu = remote.Pdu;
        var userId = Text(pdu["state_key"]);
        if (Text(pdu["room_id"]) != RoomId || Text(pdu["type"]) != "m.room.member" || Text(pdu["content"]?["membership"]) != membership ||
            userId is null || Text(pdu["sender"]) != userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != server.ServerName)
        {
            throw MatrixException.BadJson($"A remote {membership} completes with the {membership} event of one of this server's users.");
        }
        if (_state is { } known && known.Version.Id != version.Id) throw BadAnswer($"the room is of version {known.Version.Id} here, not {version.Id}");
        if (_state is not null && await dag.GetEventsAsync(RoomId, [remote.EventId]) is [_]) return;
        var e = new NewEvent(remote.EventId, (_state?.LastRoomSeq ?? 0) + 1, pdu["depth"]!.GetValue<long>(), "m.room.member", userId, userId,
            pdu["origin_server_ts"]!.GetValue<long>(), membership, CanonicalJson.ToCanonicalString(pdu));
        var change = new DagChange([], [new DagEventRow(e.EventId, DagStatus.Outlier, null, null)], _state?.ForwardExtremities ?? [],
            _state?.CurrentStateGroup ?? 0, [new CurrentStateChange("m.room.member", userId, e.EventId, membership)]);
        await PersistOutlierMembershipAsync(version, e, change, strippedStateJson is null ? null : new InviteRoomState(userId, e.EventId, strippedStateJson));
    }

    /// <summary>
    /// A membership of one of our users in a room this server is not in (an invite received, its rejection
    /// made through another server): the user's current membership, with no state of its own. A room not
    /// known before is created for it, holding no state but this.
    /// </summary>
    private async Task PersistOutlierMembershipAsync(RoomVersion version, NewEvent e, DagChange change, InviteRoomState? inviteState)
    {
        var isNew = _state is null;
        _state ??= new RoomState(new RoomSnapshot(RoomId, version.Id, Epoch: 1, LastRoomSeq: 0, MaxDepth: 0, ForwardExtremities: [],
            CurrentState: new Dictionary<(string, string), StoredEvent>()));
        var epoch = _state.Epoch;
        try
        {
            await PersistAsync([e], null, change, isNew ? new NewRoom(version.Id, e.Sender, clock.GetUtcNow().ToUnixTimeMilliseconds()) : null, inviteState);
            await LoadAsync(epoch, CancellationToken.None);
        }
        catch (RoomExistsException)
        {
            _state = null;
            deactivate();
            throw MatrixException.Unavailable($"Room {RoomId} was created by another request meanwhile. Retry the request.");
        }
        catch (WriterFencedException fenced)
        {
            if (isNew) _state = null;
            deactivate();
            throw MatrixException.Unavailable($"{fenced.Message} Retry the request.");
        }
        catch
        {
            if (isNew) _state = null;
            deactivate();
            throw;
        }
    }
}
