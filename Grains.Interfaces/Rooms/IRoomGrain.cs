using Orleans;
using Orleans.Concurrency;

namespace Homeserver.Grains.Interfaces.Rooms;

/// <summary>
/// The event persister of one room (key: room ID). Placed on one of the <c>stream_writers.events</c>
/// instances by a stable hash of the room ID; it orders, signs and persists the room's events.
/// Like every grain method here, each takes the caller's cancellation (a client that went away): the
/// caller stops waiting at once, while a write already under way completes, so a retry with the same
/// transaction ID finds it.
/// </summary>
[Alias("IRoomGrain")]
public interface IRoomGrain : IGrainWithStringKey
{
    Task<RoomCreated> CreateAsync(CreateRoomCommand command, CancellationToken cancellationToken = default);

    Task<EventSent> SendEventAsync(SendEventCommand command, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes events from other servers (already checked for format, signatures and hashes): each is
    /// authorized against its auth events, the state before it and the current state, and stored as
    /// accepted, rejected or soft-failed; one whose prev or auth events the room lacks is not stored.
    /// </summary>
    Task<IReadOnlyList<ReceivedPduOutcome>> ReceiveEventsAsync(IReadOnlyList<ReceivedPdu> pdus, CancellationToken cancellationToken = default);

    /// <summary>make_join: a join event for <paramref name="userId"/> of another server, if the room would let them join.</summary>
    Task<JoinTemplate> MakeJoinAsync(string userId, IReadOnlyList<string> supportedRoomVersions, string? authorisedVia = null,
        CancellationToken cancellationToken = default);

    /// <summary>send_join: the signed join event of a remote user, accepted into the room or refused (403).</summary>
    Task<RemoteJoinAccepted> SendJoinAsync(ReceivedPdu join, CancellationToken cancellationToken = default);

    /// <summary>make_leave: a leave event for <paramref name="userId"/> of another server, if the room would let them leave.</summary>
    Task<JoinTemplate> MakeLeaveAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>send_leave: the signed leave event of a remote user, accepted into the room or refused (403).</summary>
    Task SendLeaveAsync(ReceivedPdu leave, CancellationToken cancellationToken = default);

    /// <summary>
    /// A join of one of our users that a resident server took (send_join): the room, new here or one this
    /// server has left, takes the state the resident answered with (each event authorized against its auth
    /// events), then the join against that state. 403 when the answer does not allow the join, 502 when it
    /// is not a room at all.
    /// </summary>
    Task<EventSent> CompleteRemoteJoinAsync(RemoteRoomJoin join, CancellationToken cancellationToken = default);

    /// <summary>
    /// Another server invites one of our users: taken as any received event when this server holds the room's
    /// state and the invite's prev events, otherwise kept as an outlier with the stripped state it came with,
    /// so the invitee sees it. 403 when the room's state here refuses it.
    /// </summary>
    Task ReceiveInviteAsync(RemoteInvite invite, CancellationToken cancellationToken = default);

    /// <summary>
    /// The invite (an m.room.member command with membership invite) of a user of another server, built and
    /// signed on the room's tips and checked against the current state, for that server to sign
    /// (<c>PUT /invite</c>) before it comes back through <see cref="ReceiveEventsAsync"/>.
    /// </summary>
    Task<PreparedEvent> PrepareInviteAsync(SendEventCommand invite, CancellationToken cancellationToken = default);

    /// <summary>
    /// One of our users left (or rejected an invite to) a room this server is not in, through a resident
    /// server (make_leave, send_leave): the leave becomes their current membership, an outlier as the invite was.
    /// </summary>
    Task CompleteRemoteLeaveAsync(ReceivedPdu leave, string roomVersion, CancellationToken cancellationToken = default);

    /// <summary>make_knock: a knock event for <paramref name="userId"/> of another server, if the room lets them knock (v7+).</summary>
    Task<JoinTemplate> MakeKnockAsync(string userId, IReadOnlyList<string> supportedRoomVersions, CancellationToken cancellationToken = default);

    /// <summary>send_knock: the signed knock of a remote user, accepted into the room or refused (403).</summary>
    Task SendKnockAsync(ReceivedPdu knock, CancellationToken cancellationToken = default);

    /// <summary>One of our users knocked on a room this server is not in, through a resident server: kept as their membership with the room's stripped state.</summary>
    Task CompleteRemoteKnockAsync(ReceivedPdu knock, string roomVersion, string knockRoomStateJson, CancellationToken cancellationToken = default);

    [ReadOnly]
    /// <summary>
    /// Places history another server sent (<c>/backfill</c>, checked for format, hashes and signatures by the caller)
    /// before the room's first event; see RoomWriter.Backfill.
    /// </summary>
    Task<BackfillOutcome> BackfillAsync(IReadOnlyList<ReceivedPdu> pdus, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes the state before prev events the room lacks (and those events, with the state and auth chain it did not
    /// hold, checked by the caller for format, hashes and signatures) so that events citing them can be received:
    /// each is kept as an outlier with the state after it. How many prev events now have their state; see RoomWriter.GapState.
    /// </summary>
    Task<int> AddPrevEventStatesAsync(IReadOnlyList<PrevEventState> prevs, IReadOnlyList<ReceivedPdu> fetched, CancellationToken cancellationToken = default);

    Task<RoomWriterInfo> GetWriterInfoAsync(CancellationToken cancellationToken = default);
}
