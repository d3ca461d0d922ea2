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
        var events = new Dictionary<string, ResolutionEvent>(StringComparer.Ordinal);
        var queued = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (var id in roots)
        {
            if (queued.Add(id)) queue.Enqueue(id);
        }
        while (queue.TryDequeue(out var id))
        {
            if (events.Count >= limits.MaxEvents)
            {
                return (null, StateResolutionResult.Failed(StateResolutionFailure.TooManyEvents, id,
                    $"resolution would need more than {limits.MaxEvents} events"));
            }
            var stored = await lookup(id, cancellationToken).ConfigureAwait(false);
            if (stored is null) return (null, StateResolutionResult.Failed(StateResolutionFailure.MissingEvent, id, $"event {id} is not available"));
            var parsed = ResolutionEvent.TryParse(id, stored);
            if (parsed is null) return (null, StateResolutionResult.Failed(StateResolutionFailure.MalformedEvent, id, $"event {id} lacks a type, sender or event lists"));
            if (parsed.AuthEvents.Count > limits.MaxAuthEventsPerEvent)
            {
                return (null, StateResolutionResult.Failed(StateResolutionFailure.MalformedEvent, id, $"event {id} cites {parsed.AuthEvents.Count} auth events"));
            }
            events.Add(id, parsed);
            if (!followAuthEvents) continue;
            foreach (var authId in parsed.AuthEvents)
            {
                if (queued.Add(authId)) queue.Enqueue(authId);
            }
        }
        return (new EventGraph(events), null);
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
