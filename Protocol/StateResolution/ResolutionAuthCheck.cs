namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The authorization rules applied to an event against a state a resolution built, which is not
/// the state before the event: both algorithms' auth checks go through here.
/// </summary>
internal static class ResolutionAuthCheck
{
    public static bool Allows(EventGraph graph, ResolutionEvent evt, IReadOnlyDictionary<(string Type, string StateKey), string> state,
        RoomVersion version) =>
        AuthRules.Check(evt.Json, graph.AuthState(state), version, StateEventCount(evt, state)).Allowed;

    /// <summary>
    /// <see cref="AuthRules.Check"/> grants the creator's first join when the room holds one state
    /// event; the rule it implements (6.2) asks whether the join's only previous event is the create
    /// event, which is what this reports (1 when it is, 2 otherwise), since the state here is a
    /// resolution's, not the join's own, and may hold the create event alone for other reasons.
    /// </summary>
    private static int StateEventCount(ResolutionEvent evt, IReadOnlyDictionary<(string Type, string StateKey), string> state) =>
        state.TryGetValue(("m.room.create", ""), out var createId) && evt.PrevEvents is [var only] && only == createId ? 1 : 2;
}
