using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// The event persister of one room (key: room ID), on the <c>stream_writers.events</c> silo its ID
/// hashes to, or a live one of them while that one is down. Turn-based, so the room's events get a
/// total order without locks; the work itself is <see cref="RoomWriter"/>'s.
/// </summary>
[WriterPlacement(StreamNames.Events)]
public sealed class RoomGrain(IServiceProvider services) : Grain, IRoomGrain
{
    private RoomWriter? _writer;

    private RoomWriter Writer => _writer ?? throw new InvalidOperationException("The room grain is not activated.");

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _writer = ActivatorUtilities.CreateInstance<RoomWriter>(services, this.GetPrimaryKeyString(), (Action)DeactivateOnIdle);
        return _writer.ActivateAsync(cancellationToken);
    }

    public Task<RoomCreated> CreateAsync(CreateRoomCommand command, CancellationToken cancellationToken) => Writer.CreateAsync(command);

    public Task<EventSent> SendEventAsync(SendEventCommand command, CancellationToken cancellationToken) => Writer.SendEventAsync(command);

    public Task<IReadOnlyList<ReceivedPduOutcome>> ReceiveEventsAsync(IReadOnlyList<ReceivedPdu> pdus, CancellationToken cancellationToken) =>
        Writer.ReceiveEventsAsync(pdus);

    public Task<JoinTemplate> MakeJoinAsync(string userId, IReadOnlyList<string> supportedRoomVersions, string? authorisedVia,
        CancellationToken cancellationToken) => Writer.MakeJoinAsync(userId, supportedRoomVersions, authorisedVia);

    public Task<RemoteJoinAccepted> SendJoinAsync(ReceivedPdu join, CancellationToken cancellationToken) => Writer.SendJoinAsync(join);

    public Task<JoinTemplate> MakeLeaveAsync(string userId, CancellationToken cancellationToken) => Writer.MakeLeaveAsync(userId);

    public Task SendLeaveAsync(ReceivedPdu leave, CancellationToken cancellationToken) => Writer.SendLeaveAsync(leave);

    public Task<EventSent> CompleteRemoteJoinAsync(RemoteRoomJoin join, CancellationToken cancellationToken) => Writer.CompleteRemoteJoinAsync(join);
    public Task<int> AddPrevEventStatesAsync(IReadOnlyList<PrevEventState> prevs, IReadOnlyList<ReceivedPdu> fetched, CancellationToken cancellationToken) =>
        Writer.AddPrevEventStatesAsync(prevs, fetched);
    public Task<BackfillOutcome> BackfillAsync(IReadOnlyList<ReceivedPdu> pdus, CancellationToken cancellationToken) => Writer.BackfillAsync(pdus);

    public Task ReceiveInviteAsync(RemoteInvite invite, CancellationToken cancellationToken) => Writer.ReceiveInviteAsync(invite);

    public Task<PreparedEvent> PrepareInviteAsync(SendEventCommand invite, CancellationToken cancellationToken) => Writer.PrepareInviteAsync(invite);

    public Task CompleteRemoteLeaveAsync(ReceivedPdu leave, string roomVersion, CancellationToken cancellationToken) =>
        Writer.CompleteRemoteLeaveAsync(leave, roomVersion);

    public Task<JoinTemplate> MakeKnockAsync(string userId, IReadOnlyList<string> supportedRoomVersions, CancellationToken cancellationToken) =>
        Writer.MakeKnockAsync(userId, supportedRoomVersions);

    public Task SendKnockAsync(ReceivedPdu knock, CancellationToken cancellationToken) => Writer.SendKnockAsync(knock);

    public Task CompleteRemoteKnockAsync(ReceivedPdu knock, string roomVersion, string knockRoomStateJson, CancellationToken cancellationToken) =>
        Writer.CompleteRemoteKnockAsync(knock, roomVersion, knockRoomStateJson);

    public Task<RoomWriterInfo> GetWriterInfoAsync(CancellationToken cancellationToken) => Writer.GetWriterInfoAsync();
}
