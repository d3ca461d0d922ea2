namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// Resolves a set of room states into one with state resolution v2 (room versions 2 to 11; room
/// version 1's algorithm is not implemented yet, so it is refused). Events are looked up lazily, once each, then resolution is
/// pure; a missing event, an auth-event cycle or a graph past <see cref="StateResolutionLimits"/>
/// gives a failed result rather than a partial state.
/// </summary>
public static class StateResolver
{
    public static async Task<StateResolutionResult> ResolveAsync(RoomVersion version,
        IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> stateSets, EventLookup lookup,
        StateResolutionLimits? limits = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version.Number, 2, nameof(version));
        var (graph, failure) = await EventGraph.LoadAsync(stateSets.SelectMany(s => s.Values), followAuthEvents: true, lookup,
            limits ?? StateResolutionLimits.Default, cancellationToken).ConfigureAwait(false);
        if (graph is null) return failure!;
        return graph.MismatchedKey(stateSets.SelectMany(s => s)) ?? StateResolverV2.Resolve(graph, stateSets, version);
    }
}
