namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The events one resolution needs, looked up breadth-first from the state sets along
/// <c>auth_events</c> and held by ID. Loading is the only I/O; everything after it is pure.
/// A visited set makes cycles harmless here, and the event budget bounds memory however large
/// the chains a hostile server built.
/// </summary>
internal sealed class EventGraph
{
    private readonly Dictionary<string, ResolutionEvent> _events;

    private EventGraph(Dictionary<string, ResolutionEvent> events) => _events = events;

    public ResolutionEvent this[string eventId] => _events[eventId];

    public int Count => _events.Count;

    /// <summary>Loads the given events and (when <paramref name="followAuthEvents"/>) their whole auth chains.</summary>
    public static async Task<(EventGraph? Graph, StateResolutionResult? Failure)> LoadAsync(IEnumerable<string> roots,
        bool followAuthEvents, EventLookup lookup, StateResolutionLimits limits, CancellationToken cancellationToken)
    {
        var graph = new EventGraph(new Dictionary<string, ResolutionEvent>(StringComparer.Ordinal));
        var failure = await graph.AddAsync(roots, followAuthEvents, lookup, limits, cancellationToken).ConfigureAwait(false);
        return failure is null ? (graph, null) : (null, failure);
    }

    /// <summary>
    /// Loads more events into the graph, within the same budget, for an algorithm that learns what
    /// it needs from the events it has (v1 reads its conflicted events to know which auth state to
    /// fetch). Events already held are not looked up again, nor are their auth events followed.
    /// </summary>
    public async Task<StateResolutionResult?> AddAsync(IEnumerable<string> roots, bool followAuthEvents, EventLookup lookup,
        StateResolutionLimits limits, CancellationToken cancellationToken)
    {
        var queued = new HashSet<string>(_events.Keys, StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (var id in roots)
        {
            if (queued.Add(id)) queue.Enqueue(id);
        }
        while (queue.TryDequeue(out var id))
        {
            if (_events.Count >= limits.MaxEvents)
            {
                return StateResolutionResult.Failed(StateResolutionFailure.TooManyEvents, id, $"resolution would need more than {limits.MaxEvents} events");
            }
            var stored = await lookup(id, cancellationToken).ConfigureAwait(false);
            if (stored is null) return StateResolutionResult.Failed(StateResolutionFailure.MissingEvent, id, $"event {id} is not available");
            var parsed = ResolutionEvent.TryParse(id, stored);
            if (parsed is null) return StateResolutionResult.Failed(StateResolutionFailure.MalformedEvent, id, $"event {id} lacks a type, sender or event lists");
            if (parsed.AuthEvents.Count > limits.MaxAuthEventsPerEvent)
            {
                return StateResolutionResult.Failed(StateResolutionFailure.MalformedEvent, id, $"event {id} cites {parsed.AuthEvents.Count} auth events");
            }
            _events.Add(id, parsed);
            if (!followAuthEvents) continue;
            foreach (var authId in parsed.AuthEvents)
            {
                if (queued.Add(authId)) queue.Enqueue(authId);
            }
        }
        return null;
    }

    /// <summary>
    /// A failure for the first state set entry, among those whose event the graph holds, that maps
    /// its key to an event of another type or state key (or to a message event), or null.
    /// </summary>
    public StateResolutionResult? MismatchedKey(IEnumerable<KeyValuePair<(string Type, string StateKey), string>> entries)
    {
        foreach (var (key, id) in entries)
        {
            if (_events.TryGetValue(id, out var evt) && (evt.StateKey is null || evt.Key != key))
            {
                return StateResolutionResult.Failed(StateResolutionFailure.MalformedEvent, id, $"event {id} is not the state event for {key}");
            }
        }
        return null;
    }

    /// <summary>
    /// The union of the auth chains of <paramref name="from"/>: every event reachable along
    /// <c>auth_events</c>, not counting the starting events unless another one reaches them.
    /// </summary>
    public HashSet<string> AuthChain(IEnumerable<string> from)
    {
        var chain = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        foreach (var id in from)
        {
            foreach (var authId in _events[id].AuthEvents) stack.Push(authId);
        }
        while (stack.TryPop(out var id))
        {
            if (!chain.Add(id)) continue;
            foreach (var authId in _events[id].AuthEvents) stack.Push(authId);
        }
        return chain;
    }

    /// <summary>
    /// The state an event's own auth events describe, skipping rejected ones (the spec's "Rejected
    /// events": auth events are not re-authed, so a rejected one must not lend its authority).
    /// </summary>
    public Dictionary<(string Type, string StateKey), string> AuthEventState(ResolutionEvent evt)
    {
        var state = new Dictionary<(string, string), string>();
        foreach (var authId in evt.AuthEvents)
        {
            var auth = _events[authId];
            if (!auth.Rejected && auth.StateKey is not null) state[auth.Key] = authId;
        }
        return state;
    }

    public RoomAuthState AuthState(IReadOnlyDictionary<(string Type, string StateKey), string> state) =>
        new(state.ToDictionary(kv => kv.Key, kv => _events[kv.Value].Json));
}
