namespace Homeserver.Storage.Rooms;

/// <summary>An event ready to persist: built, hashed and signed by the room grain.</summary>
public sealed record NewEvent(
    string EventId,
    long RoomSeq,
    long Depth,
    string Type,
    string? StateKey,
    string Sender,
    long OriginServerTs,
    string? Membership,
    string Json,
    string? Redacts = null,
    EventRelation? Relation = null,
    IReadOnlyList<Push.PushActionRow>? PushActions = null,
    bool Outlier = false);

/// <summary>The event's <c>m.relates_to</c>: which event it relates to and how.</summary>
public sealed record EventRelation(string EventId, string RelationType);

public sealed record PersistedEvent(NewEvent Event, long StreamOrdering);

/// <summary>The client transaction that produced an event: (user, device, txn) -> event.</summary>
public sealed record TransactionKey(string UserId, string DeviceId, string TxnId);

/// <summary>What a room grain loads at activation.</summary>
public sealed record RoomSnapshot(
    string RoomId,
    string RoomVersion,
    long Epoch,
    long LastRoomSeq,
    long MaxDepth,
    IReadOnlyList<string> ForwardExtremities,
    IReadOnlyDictionary<(string Type, string StateKey), StoredEvent> CurrentState,
    long CurrentStateGroup = 0,
    int CurrentStateChainLength = 0);

public sealed record StoredEvent(string EventId, long StreamOrdering, string Json);

/// <summary>A room created by the same transaction as its first events, so a refused creation leaves nothing behind.</summary>
public sealed record NewRoom(string RoomVersion, string Creator, long CreatedTs);

/// <summary>The room ID is taken already.</summary>
public sealed class RoomExistsException(string roomId) : Exception($"Room {roomId} already exists.");

/// <summary>This activation's writer epoch is no longer the room's: another activation took over.</summary>
public sealed class WriterFencedException(string roomId, long epoch)
    : Exception($"Room {roomId}: writer epoch {epoch} is no longer current; another activation owns the room.")
{
    public string RoomId { get; } = roomId;
    public long Epoch { get; } = epoch;
}

/// <summary>A state group to write: <see cref="Entries"/> over <see cref="PrevGroup"/> (a delta), or the whole state when it has none.</summary>
public sealed record NewStateGroup(long Id, long? PrevGroup, int ChainLength, IReadOnlyDictionary<(string Type, string StateKey), string> Entries);

/// <summary>How the room holds an event (room_dag_events.status).</summary>
public static class DagStatus
{
    public const string Accepted = "accepted";
    public const string Outlier = "outlier";
    public const string Rejected = "rejected";
    public const string SoftFailed = "soft_failed";
}

/// <summary>An event's place in the DAG: its status and the state groups before and after it; JSON for events not in the timeline.</summary>
public sealed record DagEventRow(string EventId, string Status, long? StateBefore, long? StateAfter, string? RejectedReason = null, string? Json = null);

/// <summary>One (type, state key) of the room's current state set to an event, as resolution decided.</summary>
public sealed record CurrentStateChange(string Type, string StateKey, string EventId, string? Membership);

/// <summary>
/// What an append changes in the DAG, in the same transaction as the events: new state groups, each
/// event's row, the room's tips and current state group. <see cref="CurrentState"/> null: each accepted
/// state event becomes current (the room's own events, built on its tips); otherwise exactly these changes.
/// <see cref="BackwardExtremities"/>: events that the room's earliest events cite and the room lacks (a remote join's prev events).
/// </summary>
public sealed record DagChange(
    IReadOnlyList<NewStateGroup> Groups,
    IReadOnlyList<DagEventRow> Events,
    IReadOnlyList<string> ForwardExtremities,
    long CurrentStateGroup,
    IReadOnlyList<CurrentStateChange>? CurrentState = null,
    IReadOnlyList<string>? BackwardExtremities = null);

/// <summary>
/// History fetched from other servers, placed before the room's first event: <see cref="Events"/> oldest first
/// (their room positions set, below the room's first), <see cref="Rejected"/> stored as rejected, and the backward
/// extremities <see cref="Reached"/> now with those the new earliest events cite in their place.
/// <see cref="LateRedactions"/>: redactions the room held already of events that arrive now (redacted event, redaction).
/// </summary>
public sealed record BackfillChange(
    IReadOnlyList<NewEvent> Events,
    IReadOnlyList<DagEventRow> Rejected,
    IReadOnlyList<string> Reached,
    IReadOnlyList<string> NewExtremities,
    IReadOnlyList<(string Redacts, string RedactionId)> LateRedactions);

/// <summary>The stripped state (a JSON array) another server sent with its invite of <see cref="UserId"/>, kept for the invitee's syncs.</summary>
public sealed record InviteRoomState(string UserId, string EventId, string EventsJson);

/// <summary>An event as the DAG holds it: its status, state groups and PDU JSON.</summary>
public sealed record DagEvent(string EventId, string RoomId, string Status, long? StateBefore, long? StateAfter, string Json, string? RejectedReason);
