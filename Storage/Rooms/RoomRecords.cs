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
    IReadOnlyList<Push.PushActionRow>? PushActions = null);

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
    IReadOnlyDictionary<(string Type, string StateKey), StoredEvent> CurrentState);

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
