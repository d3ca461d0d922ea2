namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The v2 "iterative auth checks": apply each state event in order to a room state if the
/// authorization rules allow it against that state, ignoring it otherwise. A key the rules need
/// but the state lacks is taken from the event's own (non-rejected) auth events.
/// </summary>
internal static class IterativeAuthChecks
{
    public static Dictionary<(string Type, string StateKey), string> Apply(EventGraph graph,
        IReadOnlyDictionary<(string Type, string StateKey), string> initial, IEnumerable<ResolutionEvent> ordered, RoomVersion version)
    {
        var state = new Dictionary<(string Type, string StateKey), string>(initial);
        foreach (var evt in ordered)
        {
            // The rules read only the keys they need, so "the state, falling back to the auth events
            // for what it lacks" is the auth events overlaid with the whole state.
            var authState = graph.AuthEventState(evt);
            foreach (var (key, id) in state) authState[key] = id;
            if (ResolutionAuthCheck.Allows(graph, evt, authState, version)) state[evt.Key] = evt.Id;
        }
        return state;
    }
}
