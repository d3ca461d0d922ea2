namespace Homeserver.Configuration;

/// <summary>
/// How patiently this server retries another homeserver that fails: Synapse's <c>federation</c> keys
/// <c>destination_min_retry_interval</c> (10 min), <c>destination_retry_multiplier</c> (2) and
/// <c>destination_max_retry_interval</c> (7 days); and how often the sender looks for new events.
/// </summary>
public sealed record FederationSenderOptions
{
    public TimeSpan MinRetryInterval { get; init; } = TimeSpan.FromMinutes(10);
    public double RetryMultiplier { get; init; } = 2;
    public TimeSpan MaxRetryInterval { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How often new events are read from PostgreSQL (as pushers do).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>EDUs held per destination at most; the oldest typing notifications go first.</summary>
    public int MaxQueuedEdus { get; init; } = 1000;

    /// <summary>The options, or why they cannot work.</summary>
    public FederationSenderOptions Validated()
    {
        if (MinRetryInterval <= TimeSpan.Zero) throw new ConfigurationException("federation: destination_min_retry_interval must be positive.");
        if (MaxRetryInterval < MinRetryInterval) throw new ConfigurationException("federation: destination_max_retry_interval must be at least destination_min_retry_interval.");
        if (RetryMultiplier < 1) throw new ConfigurationException("federation: destination_retry_multiplier must be at least 1.");
        if (PollInterval <= TimeSpan.Zero) throw new ConfigurationException("federation sender poll interval must be positive.");
        if (MaxQueuedEdus < 100) throw new ConfigurationException("federation sender: at least 100 EDUs (one transaction's worth) must fit in the queue.");
        return this;
    }
}
