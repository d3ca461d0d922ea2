using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>The in-memory view a room grain keeps: current state (parsed once) and the tip of the room's DAG.</summary>
internal sealed class RoomState
{
    private readonly Dictionary<(string Type, string StateKey), JsonObject> _events = new();
    private readonly Dictionary<(string Type, string StateKey), string> _eventIds = new();

    public RoomState(RoomSnapshot snapshot)
    {
        RoomId = snapshot.RoomId;
        RoomVersions.TryGet(snapshot.RoomVersion, out var version);
        Version = version ?? throw new InvalidOperationException($"Room {snapshot.RoomId} has unknown version {snapshot.RoomVersion}.");
        Epoch = snapshot.Epoch;
        LastRoomSeq = snapshot.LastRoomSeq;
        MaxDepth = snapshot.MaxDepth;
        ForwardExtremities = snapshot.ForwardExtremities;
        CurrentStateGroup = snapshot.CurrentStateGroup;
        ChainLength = snapshot.CurrentStateChainLength;
        foreach (var (key, stored) in snapshot.CurrentState)
        {
            _events[key] = StoredJson.Parse(stored.Json)!.AsObject();
            _eventIds[key] = stored.EventId;
        }
    }

    public string RoomId { get; }
    public RoomVersion Version { get; }
    public long Epoch { get; }
    public long LastRoomSeq { get; private set; }
    public long MaxDepth { get; private set; }
    public IReadOnlyList<string> ForwardExtremities { get; private set; }

    /// <summary>The state group of the current state (0 before the room's first event), and how many deltas it stands on.</summary>
    public long CurrentStateGroup { get; private set; }
    public int ChainLength { get; private set; }

    public int StateEventCount => _events.Count;

    /// <summary>The current state as (type, state key) to event ID.</summary>
    public IReadOnlyDictionary<(string Type, string StateKey), string> StateIds => _eventIds;

    /// <summary>A view over the live state, valid within the current turn.</summary>
    public RoomAuthState AuthState => new(_events);

    /// <summary>The current state event of (type, state key) with its ID, if there is one.</summary>
    public (JsonObject Pdu, string EventId)? Current(string type, string stateKey) =>
        _events.TryGetValue((type, stateKey), out var pdu) ? (pdu, _eventIds[(type, stateKey)]) : null;

    /// <summary>The auth events a new event cites, per the spec's selection rules.</summary>
    public IReadOnlyList<string> AuthEventsFor(string sender, string type, string? stateKey, JsonObject content) =>
        AuthEventSelection.KeysFor(type, sender, stateKey, content).Distinct().Where(_eventIds.ContainsKey).Select(k => _eventIds[k]).Distinct().ToList();

    /// <summary>
    /// A local event built on the room's tips: it becomes the one tip (the tips it did not cite stay), and
    /// a state event becomes current state, in <paramref name="stateGroup"/> (<paramref name="chainLength"/> deltas deep).
    /// </summary>
    public void Apply(NewEvent e, JsonObject pdu, IReadOnlyList<string> citedTips, long stateGroup, int chainLength)
    {
        LastRoomSeq = e.RoomSeq;
        MaxDepth = Math.Max(MaxDepth, e.Depth);
        ForwardExtremities = [.. ForwardExtremities.Except(citedTips, StringComparer.Ordinal), e.EventId];
        CurrentStateGroup = stateGroup;
        ChainLength = chainLength;
        if (e.StateKey is null) return;
        _events[(e.Type, e.StateKey)] = pdu;
        _eventIds[(e.Type, e.StateKey)] = e.EventId;
    }

    /// <summary>
    /// An accepted event from elsewhere: it joins the tips in place of those it cites; the current state becomes
    /// <paramref name="currentState"/> (resolved by the caller), with its parsed events.
    /// </summary>
    public void ApplyResolved(long roomSeq, long depth, string eventId, IReadOnlyList<string> prevEvents,
        IReadOnlyDictionary<(string Type, string StateKey), (string EventId, JsonObject Pdu)> currentState, long stateGroup, int chainLength)
    {
        LastRoomSeq = roomSeq;
        MaxDepth = Math.Max(MaxDepth, depth);
        ForwardExtremities = [.. ForwardExtremities.Except(prevEvents, StringComparer.Ordinal), eventId];
        CurrentStateGroup = stateGroup;
        ChainLength = chainLength;
        _events.Clear();
        _eventIds.Clear();
        foreach (var (key, (id, pdu)) in currentState)
        {
            _events[key] = pdu;
            _eventIds[key] = id;
        }
    }

    /// <summary>The parsed current state event of a key, for callers that rebuild the state.</summary>
    public JsonObject? CurrentPdu(string type, string stateKey) => _events.GetValueOrDefault((type, stateKey));
}
