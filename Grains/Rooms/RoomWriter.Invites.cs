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

    public async Task CompleteRemoteKnockAsync(ReceivedPdu remote, string roomVersion, string knockRoomStateJson)
    {
        if (!RoomVersions.TryGet(roomVersion, out var version)) throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version {roomVersion} is not supported.");
        var knock = remote.Pdu;
        var userId = Text(knock["state_key"]);
        if (Text(knock["room_id"]) != RoomId || Text(knock["type"]) != "m.room.member" || Text(knock["content"]?["membership"]) != "knock" ||
            userId is null || Text(knock["sender"]) != userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != server.ServerName)
        {
            throw MatrixException.BadJson("A remote knock completes with the knock event of one of this server's users.");
        }
        if (_state is { } known && known.Version.Id != version.Id) throw BadAnswer($"the room is of version {known.Version.Id} here, not {version.Id}");
        if (_state is not null && await dag.GetEventsAsync(RoomId, [remote.EventId]) is [_]) return;
        var e = new NewEvent(remote.EventId, (_state?.LastRoomSeq ?? 0) + 1, knock["depth"]!.GetValue<long>(), "m.room.member", userId, userId,
            knock["origin_server_ts"]!.GetValue<long>(), "knock", CanonicalJson.ToCanonicalString(knock));
        var change = new DagChange([], [new DagEventRow(e.EventId, DagStatus.Outlier, null, null)], _state?.ForwardExtremities ?? [],
            _state?.CurrentStateGroup ?? 0, [new CurrentStateChange("m.room.member", userId, e.EventId, "knock")]);
        await PersistOutlierMembershipAsync(version, e, change, new InviteRoomState(userId, e.EventId, knockRoomStateJson));
    }

    public async Task CompleteRemoteLeaveAsync(ReceivedPdu remote, string roomVersion)
    {
        if (!RoomVersions.TryGet(roomVersion, out var version)) throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version {roomVersion} is not supported.");
        var leave = remote.Pdu;
        var userId = Text(leave["state_key"]);
        if (Text(leave["room_id"]) != RoomId || Text(leave["type"]) != "m.room.member" || Text(leave["content"]?["membership"]) != "leave" ||
            userId is null || Text(leave["sender"]) != userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != server.ServerName)
        {
            throw MatrixException.BadJson("A remote leave completes with the leave event of one of this server's users.");
        }
        if (_state is { } known && known.Version.Id != version.Id) throw BadAnswer($"the room is of version {known.Version.Id} here, not {version.Id}");
        if (_state is not null && await dag.GetEventsAsync(RoomId, [remote.EventId]) is [_]) return;
        var e = new NewEvent(remote.EventId, (_state?.LastRoomSeq ?? 0) + 1, leave["depth"]!.GetValue<long>(), "m.room.member", userId, userId,
            leave["origin_server_ts"]!.GetValue<long>(), "leave", CanonicalJson.ToCanonicalString(leave));
        var change = new DagChange([], [new DagEventRow(e.EventId, DagStatus.Outlier, null, null)], _state?.ForwardExtremities ?? [],
            _state?.CurrentStateGroup ?? 0, [new CurrentStateChange("m.room.member", userId, e.EventId, "leave")]);
        await PersistOutlierMembershipAsync(version, e, change, null);
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
