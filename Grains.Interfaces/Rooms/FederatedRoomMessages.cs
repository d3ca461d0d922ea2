using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.Rooms;

/// <summary>An event from another server that passed the checks needing no room state (format, signatures, content hash).</summary>
[GenerateSerializer, Immutable, Alias("ReceivedPdu")]
public sealed record ReceivedPdu([property: Id(0)] string EventId, [property: Id(1)] JsonObject Pdu);

/// <summary>How the room took a received event: one of room_dag_events' statuses (<see cref="Reason"/> says why it was rejected or soft-failed), or not at all (<see cref="Error"/> says why).</summary>
[GenerateSerializer, Immutable, Alias("ReceivedPduOutcome")]
public sealed record ReceivedPduOutcome([property: Id(0)] string EventId, [property: Id(1)] string? Status, [property: Id(2)] string? Error,
    [property: Id(3)] string? Reason = null)
{
    /// <summary>The <see cref="Error"/> of an event whose prev events (or their state) the room lacks: the sender may fill the gap.</summary>
    public const string PrevEventsMissing = "the room does not hold the event's prev events with their state";

    public bool Accepted => Status == "accepted";
}

/// <summary>The make_join (or make_leave) answer: an unsigned membership event for the remote user to sign, and the room's version.</summary>
[GenerateSerializer, Immutable, Alias("JoinTemplate")]
public sealed record JoinTemplate([property: Id(0)] string RoomVersion, [property: Id(1)] JsonObject Event);

/// <summary>A remote join the room accepted, with the IDs of the state before it (what send_join answers with).</summary>
[GenerateSerializer, Immutable, Alias("RemoteJoinAccepted")]
public sealed record RemoteJoinAccepted([property: Id(0)] JsonObject Event, [property: Id(1)] IReadOnlyList<string> StateBefore);

/// <summary>
/// One of our users joined a room through a resident server (make_join, then send_join): the join event
/// as sent, and the state before it and its auth chain as the resident answered, every event already
/// checked for format, signatures and hashes.
/// </summary>
[GenerateSerializer, Immutable, Alias("RemoteRoomJoin")]
public sealed record RemoteRoomJoin([property: Id(0)] string RoomVersion, [property: Id(1)] ReceivedPdu Join,
    [property: Id(2)] IReadOnlyList<ReceivedPdu> State, [property: Id(3)] IReadOnlyList<ReceivedPdu> AuthChain);

/// <summary>
/// Another server's invite of one of our users (<c>PUT /invite</c>), checked for format and signatures and
/// signed by us too, with the stripped state it came with (a JSON array of type, state_key, sender, content).
/// </summary>
[GenerateSerializer, Immutable, Alias("RemoteInvite")]
public sealed record RemoteInvite([property: Id(0)] string RoomVersion, [property: Id(1)] ReceivedPdu Invite, [property: Id(2)] string InviteRoomStateJson);

/// <summary>An event built, hashed and signed on the room's tips but not yet stored: an invite that the invitee's server must sign first.</summary>
[GenerateSerializer, Immutable, Alias("PreparedEvent")]
public sealed record PreparedEvent([property: Id(0)] string RoomVersion, [property: Id(1)] string EventId, [property: Id(2)] JsonObject Pdu);

/// <summary>What a backfill did: how many fetched events went into the room's history, and how many were rejected.</summary>
[GenerateSerializer, Immutable, Alias("BackfillOutcome")]
public sealed record BackfillOutcome([property: Id(0)] int Placed, [property: Id(1)] int Rejected);

/// <summary>The state before <see cref="PrevEventId"/>, an event the room lacks, as a server in the room gave it (<c>/state_ids</c>).</summary>
[GenerateSerializer, Immutable, Alias("PrevEventState")]
public sealed record PrevEventState([property: Id(0)] string PrevEventId, [property: Id(1)] IReadOnlyList<string> StateIds);
