namespace Homeserver.Protocol.StateResolution;

/// <summary>Why a state resolution produced no state.</summary>
public enum StateResolutionFailure
{
    None,

    /// <summary>An event in a state set or in an auth chain could not be looked up.</summary>
    MissingEvent,

    /// <summary>Resolution would need more events than <see cref="StateResolutionLimits.MaxEvents"/>.</summary>
    TooManyEvents,

    /// <summary>An event lacks a field resolution needs, or a state set maps a key to an event of another type or state key.</summary>
    MalformedEvent,

    /// <summary>The events' <c>auth_events</c> form a cycle, so no topological order exists.</summary>
    AuthEventCycle,
}

/// <summary>The resolved state ((type, state key) to event ID), or why there is none.</summary>
public sealed record StateResolutionResult(
    IReadOnlyDictionary<(string Type, string StateKey), string>? State,
    StateResolutionFailure Failure,
    string? FailedEventId,
    string Reason)
{
    public bool Succeeded => State is not null;

    internal static StateResolutionResult Resolved(IReadOnlyDictionary<(string Type, string StateKey), string> state) =>
        new(state, StateResolutionFailure.None, null, "");

    internal static StateResolutionResult Failed(StateResolutionFailure failure, string? eventId, string reason) =>
        new(null, failure, eventId, reason);
}

/// <summary>Bounds on the work one resolution may do, so a hostile event graph cannot exhaust memory.</summary>
/// <param name="MaxEvents">The most distinct events one resolution looks up: for v2 the state sets' events and their auth chains, for v1 the conflicted events and the state their checks read.</param>
/// <param name="MaxAuthEventsPerEvent">The most <c>auth_events</c> one event may cite; the auth rules need at most a handful.</param>
public sealed record StateResolutionLimits(int MaxEvents = 200_000, int MaxAuthEventsPerEvent = 50)
{
    public static StateResolutionLimits Default { get; } = new();
}
