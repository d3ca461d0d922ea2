namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// Resolves a set of room states into one with the algorithm of the room version: the original
/// one for room version 1, state resolution v2 for versions 2 to 11. Events are looked up lazily,
/// once each, then resolution is pure; a missing event, an auth-event cycle or a graph past
/// <see cref="StateResolutionLimits"/> gives a failed result rather than a partial state.
/// </summary>
public static class StateResolver
{
    public static async Task<StateResolutionResult> ResolveAsync(RoomVersion version,
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets, EventLookup lookup,
        StateResolutionLimits? limits = null, CancellationToken cancellationToken = default)
    {
        limits ??= StateResolutionLimits.Default;
        return version.StateResolution switch
        {
            StateResolutionAlgorithm.V1 => await StateResolverV1.ResolveAsync(stateSets, lookup, limits, version, cancellationToken).ConfigureAwait(false),
            StateResolutionAlgorithm.V2 => await ResolveV2Async(version, stateSets, lookup, limits, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(version), version.StateResolution, "unknown state resolution algorithm"),
        };
    }

    private static async Task<StateResolutionResult> ResolveV2Async(RoomVersion version,
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets, EventLookup lookup,
        StateResolutionLimits limits, CancellationToken cancellationToken)
    {
        var (graph, failure) = await EventGraph.LoadAsync(stateSets.SelectMany(s => s.Values), followAuthEvents: true, lookup,
            limits, cancellationToken).ConfigureAwait(false);
        if (graph is null) return failure!;
        return graph.MismatchedKey(stateSets.SelectMany(s => s)) ?? StateResolverV2.Resolve(graph, stateSets, version);
    }
}
