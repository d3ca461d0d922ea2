namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// State resolution for room version 1, as the v1 spec's "State resolution" section gives it and,
/// where the spec is vague, as Synapse resolves (synapse/state/v1.py).
///
/// Only keys on which two state sets name different events are conflicted; a key some sets lack
/// is not, so it is kept without any check. The conflicted keys are settled in passes against R,
/// the state resolved so far, which starts as the unconflicted state: power levels, then join
/// rules, then memberships, then everything else. In the first three passes a key's candidates
/// are taken oldest first (ascending depth, then descending sha1 of the ID); the first is taken
/// unchecked, and each next one replaces it only while the auth rules allow it against R with the
/// current choice in place; the first refusal ends the key's pass. Within a pass each key is
/// checked against R as the pass began, so memberships never see each other's outcome (Synapse's
/// behaviour; the spec does not say).
/// In the last pass a key takes the newest candidate (highest depth, lowest sha1) that passes
/// against R, or the oldest if none does (Synapse's choice where the spec says nothing).
///
/// An event is checked against R's entries at its auth event keys only (Synapse's auth events
/// selection), never against its own auth events: v1 predates the auth difference, so nothing of
/// the events' auth chains is loaded, only the conflicted events and the unconflicted state they
/// need. Rejection flags are not read either, for the same reason.
/// </summary>
internal static class StateResolverV1
{
    private static readonly (string Type, string StateKey) PowerLevelsKey = ("m.room.power_levels", "");

    public static async Task<StateResolutionResult> ResolveAsync(IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets,
        EventLookup lookup, StateResolutionLimits limits, RoomVersion version, CancellationToken cancellationToken)
    {
        var (unconflicted, conflicted) = Split(stateSets);
        var conflictedIds = conflicted.Values.SelectMany(ids => ids).ToList();
        var (graph, failure) = await EventGraph.LoadAsync(conflictedIds, followAuthEvents: false, lookup, limits, cancellationToken)
            .ConfigureAwait(false);
        if (graph is null) return failure!;
        var authIds = conflictedIds.SelectMany(id => AuthEventKeys.For(graph[id])).Distinct()
            .Select(key => unconflicted.GetValueOrDefault(key)).OfType<string>().ToList();
        failure = await graph.AddAsync(authIds, followAuthEvents: false, lookup, limits, cancellationToken).ConfigureAwait(false);
        if (failure is not null) return failure;
        if (graph.MismatchedKey(stateSets.SelectMany(s => s)) is { } mismatch) return mismatch;
        return StateResolutionResult.Resolved(Resolve(graph, unconflicted, conflicted, version));
    }

    internal static Dictionary<(string Type, string StateKey), string> Resolve(EventGraph graph,
        IReadOnlyDictionary<(string Type, string StateKey), string> unconflicted,
        IReadOnlyDictionary<(string Type, string StateKey), IReadOnlySet<string>> conflicted, RoomVersion version)
    {
        var resolved = new Dictionary<(string Type, string StateKey), string>(unconflicted);
        var passes = new Func<(string Type, string StateKey), bool>[]
        {
            key => key == PowerLevelsKey,
            key => key.Type == "m.room.join_rules",
            key => key.Type == "m.room.member",
        };
        var done = new HashSet<(string Type, string StateKey)>();
        foreach (var inPass in passes)
        {
            var pass = conflicted.Where(kv => inPass(kv.Key))
                .Select(kv => (kv.Key, Id: ResolveAuthKey(graph, kv.Value, resolved, version))).ToList();
            foreach (var (key, id) in pass)
            {
                resolved[key] = id;
                done.Add(key);
            }
        }
        var others = conflicted.Where(kv => !done.Contains(kv.Key))
            .Select(kv => (kv.Key, Id: ResolveOtherKey(graph, kv.Value, resolved, version))).ToList();
        foreach (var (key, id) in others) resolved[key] = id;
        return resolved;
    }

    /// <summary>Keys whose values differ between the sets that hold them are conflicted; every other key keeps its one value.</summary>
    internal static (Dictionary<(string Type, string StateKey), string> Unconflicted,
        Dictionary<(string Type, string StateKey), IReadOnlySet<string>> Conflicted) Split(
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets)
    {
        var unconflicted = new Dictionary<(string Type, string StateKey), string>();
        var conflicted = new Dictionary<(string Type, string StateKey), IReadOnlySet<string>>();
        foreach (var key in stateSets.SelectMany(s => s.Keys).Distinct())
        {
            var values = stateSets.Select(s => s.GetValueOrDefault(key)).OfType<string>().ToHashSet(StringComparer.Ordinal);
            if (values.Count == 1) unconflicted[key] = values.Single();
            else conflicted[key] = values;
        }
        return (unconflicted, conflicted);
    }

    /// <summary>A power levels, join rules or membership key: the oldest candidate, replaced by each next one while the rules allow.</summary>
    internal static string ResolveAuthKey(EventGraph graph, IEnumerable<string> candidates,
        IReadOnlyDictionary<(string Type, string StateKey), string> state, RoomVersion version)
    {
        var ordered = DepthOrdering.Sort(candidates.Select(id => graph[id]));
        ordered.Reverse();
        var trial = new Dictionary<(string Type, string StateKey), string>(state);
        var chosen = ordered[0];
        foreach (var evt in ordered.Skip(1))
        {
            trial[chosen.Key] = chosen.Id;
            if (!Allows(graph, evt, trial, version)) break;
            chosen = evt;
        }
        return chosen.Id;
    }

    /// <summary>Any other key: the newest candidate the rules allow, or the oldest when they allow none.</summary>
    internal static string ResolveOtherKey(EventGraph graph, IEnumerable<string> candidates,
        IReadOnlyDictionary<(string Type, string StateKey), string> state, RoomVersion version)
    {
        var ordered = DepthOrdering.Sort(candidates.Select(id => graph[id]));
        return (ordered.FirstOrDefault(evt => Allows(graph, evt, state, version)) ?? ordered[^1]).Id;
    }

    private static bool Allows(EventGraph graph, ResolutionEvent evt, IReadOnlyDictionary<(string Type, string StateKey), string> state,
        RoomVersion version)
    {
        var authState = new Dictionary<(string Type, string StateKey), string>();
        foreach (var key in AuthEventKeys.For(evt))
        {
            if (state.TryGetValue(key, out var id)) authState[key] = id;
        }
        return ResolutionAuthCheck.Allows(graph, evt, authState, version);
    }
}
