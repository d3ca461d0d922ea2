using System.Text.Json.Nodes;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>The in-memory view a room grain keeps: current state and the tip of the room's DAG.</summary>
internal sealed class RoomState(RoomSnapshot snapshot)
{
    private readonly Dictionary<(string Type, string StateKey), StoredEvent> _current = new(snapshot.CurrentState);

    public string RoomId { get; } = snapshot.RoomId;
    public string RoomVersion { get; } = snapshot.RoomVersion;
    public long Epoch { get; } = snapshot.Epoch;
    public long LastRoomSeq { get; private set; } = snapshot.LastRoomSeq;
    public long MaxDepth { get; private set; } = snapshot.MaxDepth;
    public IReadOnlyList<string> ForwardExtremities { get; private set; } = snapshot.ForwardExtremities;

    public string? Membership(string userId) =>
        _current.TryGetValue(("m.room.member", userId), out var member)
            ? JsonNode.Parse(member.Json)?["content"]?["membership"]?.GetValue<string>()
            : null;

    /// <summary>The auth events a new event cites: create, power levels, and the sender's membership.</summary>
    public IReadOnlyList<string> AuthEventsFor(string sender)
    {
        var auth = new List<string>(3);
        foreach (var key in new[] { ("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", sender) })
        {
            if (_current.TryGetValue(key, out var e)) auth.Add(e.EventId);
        }
        return auth;
    }

    public void Apply(PersistedEvent persisted)
    {
        var e = persisted.Event;
        LastRoomSeq = e.RoomSeq;
        MaxDepth = Math.Max(MaxDepth, e.Depth);
        ForwardExtremities = [e.EventId];
        if (e.StateKey is not null)
        {
            _current[(e.Type, e.StateKey)] = new StoredEvent(e.EventId, persisted.StreamOrdering, e.Json);
        }
    }
}
