namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// State resolution v2 (room versions 2 to 11), step by step as the spec's "Algorithm" lists it.
///
/// The split: keys on which every state set agrees form the unconflicted state map; every other
/// value is conflicted. Events in some but not all of the sets' full auth chains (the auth
/// difference) join the conflicted ones, because a state set that never saw an auth event may
/// still hold state that depends on it. The power events among them, with their conflicted
/// ancestors, are settled first in an order that puts the events of more powerful senders and
/// older events first (step 1), each re-checked against what has been resolved so far (step 2).
/// The rest are then ordered by how they hang off the winning power levels' history (step 3)
/// and re-checked the same way (step 4). Unconflicted state is laid over the result last (step 5),
/// so no conflict can unseat an event every server agrees on.
/// </summary>
internal static class StateResolverV2
{
    public static StateResolutionResult Resolve(EventGraph graph,
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets, RoomVersion version)
    {
        var (unconflicted, conflicted) = Split(stateSets);
        var fullConflicted = new HashSet<string>(conflicted, StringComparer.Ordinal);
        fullConflicted.UnionWith(AuthDifference(graph, stateSets));

        // Step 1: the power events and the parts of their auth chains in the full conflicted set.
        var powerEvents = fullConflicted.Where(id => graph[id].IsPowerEvent).ToList();
        var powerSet = new HashSet<string>(powerEvents, StringComparer.Ordinal);
        powerSet.UnionWith(graph.AuthChain(powerEvents).Where(fullConflicted.Contains));
        if (PowerOrdering.Sort(graph, powerSet, version) is not { } powerOrder)
        {
            return StateResolutionResult.Failed(StateResolutionFailure.AuthEventCycle, null, "the conflicted power events' auth events form a cycle");
        }

        // Step 2.
        var partial = IterativeAuthChecks.Apply(graph, unconflicted, powerOrder, version);

        // Step 3: everything else, by mainline of the power levels step 2 settled on.
        var others = fullConflicted.Where(id => !powerSet.Contains(id)).Select(id => graph[id]);
        var mainlineOrder = MainlineOrdering.Sort(graph, partial.GetValueOrDefault(("m.room.power_levels", "")), others);

        // Steps 4 and 5.
        var resolved = IterativeAuthChecks.Apply(graph, partial, mainlineOrder, version);
        foreach (var (key, id) in unconflicted) resolved[key] = id;
        return StateResolutionResult.Resolved(resolved);
    }

    /// <summary>The unconflicted state map (keys present in every set with one value) and the conflicted state set.</summary>
    internal static (Dictionary<(string Type, string StateKey), string> Unconflicted, HashSet<string> Conflicted) Split(
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets)
    {
        var unconflicted = new Dictionary<(string Type, string StateKey), string>();
        var conflicted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in stateSets.SelectMany(s => s.Keys).Distinct())
        {
            var values = stateSets.Select(s => s.GetValueOrDefault(key)).ToList();
            if (values.All(v => v is not null) && values.Distinct().Count() == 1) unconflicted[key] = values[0]!;
            else conflicted.UnionWith(values.OfType<string>());
        }
        return (unconflicted, conflicted);
    }

    /// <summary>The auth difference: the union of the sets' full auth chains minus their intersection.</summary>
    internal static HashSet<string> AuthDifference(EventGraph graph,
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets)
    {
        var chains = stateSets.Select(s => graph.AuthChain(s.Values)).ToList();
        var union = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chain in chains) union.UnionWith(chain);
        var common = new HashSet<string>(chains.Count == 0 ? [] : chains[0], StringComparer.Ordinal);
        foreach (var chain in chains.Skip(1)) common.IntersectWith(chain);
        union.ExceptWith(common);
        return union;
    }
}
