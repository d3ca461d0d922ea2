using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.Rooms;

/// <summary>A state event to include at creation (<c>initial_state</c>) or to send.</summary>
[GenerateSerializer]
public sealed record StateEventDraft(string Type, string StateKey, JsonObject Content);

/// <summary>Everything /createRoom asks for, already validated by the API host.</summary>
[GenerateSerializer]
public sealed record CreateRoomCommand(
    string Creator,
    string RoomVersion,
    string Preset = "private_chat",
    JsonObject? CreationContent = null,
    JsonObject? CreatorMemberContent = null,
    JsonObject? PowerLevelContentOverride = null,
    IReadOnlyList<StateEventDraft>? InitialState = null,
    string? Name = null,
    string? Topic = null,
    IReadOnlyList<string>? Invite = null,
    bool IsDirect = false,
    string? CanonicalAlias = null);

[GenerateSerializer]
public sealed record RoomCreated(string RoomId, string RoomVersion, IReadOnlyList<string> EventIds);

/// <summary>A client's (device, transaction ID) pair; a repeat returns the first event instead of a new one.</summary>
[GenerateSerializer]
public sealed record ClientTransaction(string DeviceId, string TxnId);

[GenerateSerializer]
public sealed record SendEventCommand(string Sender, string Type, string? StateKey, JsonObject Content, ClientTransaction? Transaction,
    string? Redacts = null);

[GenerateSerializer]
public sealed record EventSent(string EventId, long StreamOrdering, bool Deduplicated);

/// <summary>Which instance and epoch currently write the room: for tests and operators.</summary>
[GenerateSerializer]
public sealed record RoomWriterInfo(string RoomId, bool Exists, string InstanceName, long Epoch, long LastRoomSeq);

/// <summary>A row of the <c>events</c> stream: published after the event is committed.</summary>
[GenerateSerializer]
public sealed record EventStreamRow(string RoomId, string EventId, string Type, string? StateKey, string Sender, string InstanceName);
