using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.Rooms;

/// <summary>A state event to include at creation (<c>initial_state</c>) or to send.</summary>
[GenerateSerializer, Immutable, Alias("StateEventDraft")]
public sealed record StateEventDraft([property: Id(0)] string Type, [property: Id(1)] string StateKey, [property: Id(2)] JsonObject Content);

/// <summary>Everything /createRoom asks for, already validated by the API host.</summary>
[GenerateSerializer, Immutable, Alias("CreateRoomCommand")]
public sealed record CreateRoomCommand(
    [property: Id(0)] string Creator,
    [property: Id(1)] string RoomVersion,
    [property: Id(2)] string Preset = "private_chat",
    [property: Id(3)] JsonObject? CreationContent = null,
    [property: Id(4)] JsonObject? CreatorMemberContent = null,
    [property: Id(5)] JsonObject? PowerLevelContentOverride = null,
    [property: Id(6)] IReadOnlyList<StateEventDraft>? InitialState = null,
    [property: Id(7)] string? Name = null,
    [property: Id(8)] string? Topic = null,
    [property: Id(9)] IReadOnlyList<string>? Invite = null,
    [property: Id(10)] bool IsDirect = false,
    [property: Id(11)] string? CanonicalAlias = null,
    [property: Id(12)] IReadOnlyList<string>? RemoteInvite = null);

[GenerateSerializer, Immutable, Alias("RoomCreated")]
public sealed record RoomCreated([property: Id(0)] string RoomId, [property: Id(1)] string RoomVersion, [property: Id(2)] IReadOnlyList<string> EventIds);

/// <summary>
/// A client's device and transaction: a repeat in the same room returns the first event instead of a new one.
/// <see cref="TxnId"/> names the rest of the endpoint's path too (the spec scopes a transaction ID to one
/// device and one HTTP path), such as <c>send/{eventType}/{txnId}</c>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ClientTransaction")]
public sealed record ClientTransaction([property: Id(0)] string DeviceId, [property: Id(1)] string TxnId);

/// <param name="TargetMembershipIn">
/// For a membership event: the memberships the target must hold now, checked in the room's turn
/// (a kick is a leave of someone joined, invited or knocking; it must never unban).
/// </param>
[GenerateSerializer, Immutable, Alias("SendEventCommand")]
public sealed record SendEventCommand([property: Id(0)] string Sender, [property: Id(1)] string Type, [property: Id(2)] string? StateKey, [property: Id(3)] JsonObject Content, [property: Id(4)] ClientTransaction? Transaction,
    [property: Id(5)] string? Redacts = null, [property: Id(6)] string[]? TargetMembershipIn = null);

[GenerateSerializer, Immutable, Alias("EventSent")]
public sealed record EventSent([property: Id(0)] string EventId, [property: Id(1)] long StreamOrdering, [property: Id(2)] bool Deduplicated);

/// <summary>Which instance and epoch currently write the room: for tests and operators.</summary>
[GenerateSerializer, Immutable, Alias("RoomWriterInfo")]
public sealed record RoomWriterInfo([property: Id(0)] string RoomId, [property: Id(1)] bool Exists, [property: Id(2)] string InstanceName, [property: Id(3)] long Epoch, [property: Id(4)] long LastRoomSeq);

/// <summary>A row of the <c>events</c> stream: published after the event is committed.</summary>
[GenerateSerializer, Immutable, Alias("EventStreamRow")]
public sealed record EventStreamRow([property: Id(0)] string RoomId, [property: Id(1)] string EventId, [property: Id(2)] string Type, [property: Id(3)] string? StateKey, [property: Id(4)] string Sender, [property: Id(5)] string InstanceName);
