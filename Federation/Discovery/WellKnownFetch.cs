namespace Homeserver.Federation.Discovery;

/// <summary>
/// One fetch of <c>/.well-known/matrix/server</c>: the delegated server name with how long the answer's
/// headers say to keep it (null: they say nothing), or a failure, temporary (no answer, 5xx, too large)
/// or not (another status, no valid JSON).
/// </summary>
public sealed record WellKnownFetch(string? DelegatedServer, TimeSpan? CachePeriod, bool TemporaryFailure, string Outcome)
{
    public bool IsValid => DelegatedServer is not null;

    public static WellKnownFetch Valid(string server, TimeSpan? cachePeriod) => new(server, cachePeriod, false, $"delegated to {server}");

    public static WellKnownFetch Temporary(string reason) => new(null, null, true, reason);

    public static WellKnownFetch Permanent(string reason) => new(null, null, false, reason);
}
