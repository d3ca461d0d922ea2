namespace Homeserver.Configuration;

/// <summary>A token bucket: <c>per_second</c> refill, <c>burst_count</c> capacity (Synapse's rc_* shape).</summary>
public sealed record RateLimit(double PerSecond, double BurstCount);

/// <summary>Synapse's rate-limit sections, with Synapse's defaults.</summary>
public sealed record RateLimitOptions(
    RateLimit Message,
    RateLimit Registration,
    RateLimit LoginAddress,
    RateLimit LoginAccount,
    RateLimit LoginFailedAttempts,
    RateLimit JoinsLocal,
    RateLimit JoinsRemote,
    RateLimit InvitesPerRoom,
    RateLimit InvitesPerUser)
{
    public static RateLimitOptions Defaults { get; } = new(
        Message: new(0.2, 10),
        Registration: new(0.17, 3),
        LoginAddress: new(0.003, 5),
        LoginAccount: new(0.003, 5),
        LoginFailedAttempts: new(0.17, 3),
        JoinsLocal: new(0.1, 10),
        JoinsRemote: new(0.01, 10),
        InvitesPerRoom: new(0.3, 10),
        InvitesPerUser: new(0.003, 5));
}
