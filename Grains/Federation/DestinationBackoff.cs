using Homeserver.Configuration;
using Homeserver.Storage.Federation;

namespace Homeserver.Grains.Federation;

/// <summary>How a transaction's answer counts for the destination's backoff.</summary>
public enum TransactionOutcome
{
    /// <summary>200: the destination has it.</summary>
    Delivered,

    /// <summary>A 4xx the destination means (other than 401 and 429): delivered with an error, never retried.</summary>
    Refused,

    /// <summary>No answer, 5xx, 401 or 429: back off and catch up later.</summary>
    Failed,
}

/// <summary>
/// Synapse's retry limiter (synapse/util/retryutils.py): the first failure waits the minimum interval,
/// each further one the last interval times the multiplier with a random factor in [0.8, 1.4), capped at
/// the maximum; a success clears it. 401 (they will not take our requests for a while) and 429 (rate
/// limited) back off like a server that is down; other 4xx answers leave the timings as they are.
/// </summary>
public static class DestinationBackoff
{
    public static TransactionOutcome Classify(int statusCode) => statusCode switch
    {
        >= 200 and < 300 => TransactionOutcome.Delivered,
        401 or 429 => TransactionOutcome.Failed,
        < 500 => TransactionOutcome.Refused,
        _ => TransactionOutcome.Failed,
    };

    public static DestinationRecord Failed(DestinationRecord destination, long nowMs, FederationSenderOptions options, double jitter)
    {
        var max = (long)options.MaxRetryInterval.TotalMilliseconds;
        var interval = destination.RetryInterval > 0
            ? (long)Math.Min(destination.RetryInterval * options.RetryMultiplier * jitter, max)
            : (long)options.MinRetryInterval.TotalMilliseconds;
        return destination with { RetryInterval = interval, RetryLastTs = nowMs, FailureTs = destination.FailureTs ?? nowMs };
    }

    public static DestinationRecord Cleared(DestinationRecord destination) =>
        destination with { RetryInterval = 0, RetryLastTs = 0, FailureTs = null };

    public static bool IsClear(DestinationRecord destination) => destination.RetryInterval == 0 && destination.FailureTs is null;

    public static double Jitter() => 0.8 + Random.Shared.NextDouble() * 0.6;
}
