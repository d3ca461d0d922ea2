using System.Collections.Concurrent;
using Homeserver.Configuration;
using Homeserver.Grains.Interfaces.Errors;

namespace Homeserver.ApiHost.RateLimiting;

/// <summary>
/// Token buckets per action and key (IP address or user), Synapse's <c>rc_*</c> model: a bucket
/// holds <c>burst_count</c> and refills at <c>per_second</c>. Each API host limits on its own, as
/// Synapse's workers do.
/// </summary>
public sealed class RateLimiter(TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string Action, string Key), Bucket> _buckets = new();

    /// <summary>Takes one token or throws M_LIMIT_EXCEEDED with <c>retry_after_ms</c>.</summary>
    public void Acquire(string action, string key, RateLimit limit)
    {
        if (limit.PerSecond <= 0 && limit.BurstCount <= 0) return;
        var now = clock.GetTimestamp() / (double)clock.TimestampFrequency;
        var bucket = _buckets.GetOrAdd((action, key), _ => new Bucket(limit.BurstCount, now));
        lock (bucket)
        {
            bucket.Tokens = Math.Min(limit.BurstCount, bucket.Tokens + (now - bucket.Updated) * limit.PerSecond);
            bucket.Updated = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return;
            }
            var waitMs = limit.PerSecond > 0 ? (long)Math.Ceiling((1 - bucket.Tokens) / limit.PerSecond * 1000) : 60_000;
            throw new RateLimitedException(waitMs);
        }
    }

    private sealed class Bucket(double tokens, double updated)
    {
        public double Tokens { get; set; } = tokens;
        public double Updated { get; set; } = updated;
    }
}

public sealed class RateLimitedException(long retryAfterMs) : Exception("Too many requests.")
{
    public long RetryAfterMs { get; } = retryAfterMs;
}
