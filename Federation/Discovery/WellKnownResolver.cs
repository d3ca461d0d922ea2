using Homeserver.Federation.Transport;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Discovery;

/// <summary>
/// <c>/.well-known/matrix/server</c> answers, cached with Synapse's policy (its WellKnownResolver):
/// <list type="bullet">
/// <item>a valid answer is kept as long as its Cache-Control max-age or Expires says, bounded to 5 minutes
/// to 48 hours, else 24 hours with ±10 % jitter so a restart does not refetch every server at once;</item>
/// <item>no valid answer (404, bad JSON, no m.server, unreachable) is kept an hour, jittered, but only two
/// minutes when the host had a valid one within the last two hours beyond that answer's life;</item>
/// <item>in the last fifth of an answer's life it is refetched, and if that fetch fails temporarily
/// (no connection, 5xx, too large) the still-valid answer is used rather than dropped.</item>
/// </list>
/// Synapse also retries a fetch three times, half a second apart, for hosts with a recent valid answer;
/// here the stale answer rule alone covers that case, so a request never sleeps inside discovery.
/// </summary>
public sealed class WellKnownResolver(WellKnownFetcher fetcher, TimeProvider clock, IOptions<FederationTransportOptions> options,
    FederationTransportLog log)
{
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromHours(24);
    public static readonly TimeSpan InvalidPeriod = TimeSpan.FromHours(1);
    public static readonly TimeSpan DownPeriod = TimeSpan.FromMinutes(2);
    public static readonly TimeSpan RememberValid = TimeSpan.FromHours(2);
    public static readonly TimeSpan MinimumPeriod = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaximumPeriod = TimeSpan.FromHours(48);
    private const double Jitter = 0.1;
    private const double GraceFactor = 0.2;

    private readonly ExpiringCache<string, string?> _answers = new(options.Value.CacheCapacity, clock);
    private readonly ExpiringCache<string, bool> _hadValid = new(options.Value.CacheCapacity, clock);

    /// <summary>The server <paramref name="host"/> delegates to, or null, with the time the answer may be used until.</summary>
    public async Task<Timed<string?>> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var known = _answers.GetEntry(host);
        var now = clock.GetUtcNow();
        if (known is not null && now < known.Expires - GraceFactor * known.Lifetime) return new(known.Value, known.Expires);
        var stillValid = known is not null && known.Expires > now ? known : null;

        var fetch = await fetcher.FetchAsync(host, cancellationToken);
        TimeSpan period;
        if (fetch.IsValid)
        {
            period = fetch.CachePeriod is { } stated
                ? Clamp(stated, MinimumPeriod, MaximumPeriod)
                : Jittered(DefaultPeriod);
            _hadValid.Set(host, true, period + RememberValid);
        }
        else
        {
            if (stillValid?.Value is not null && fetch.TemporaryFailure)
            {
                log.WellKnownKeptStale(host, fetch.Outcome);
                return new(stillValid.Value, stillValid.Expires);
            }
            period = Jittered(_hadValid.TryGetFresh(host, out _) ? DownPeriod : InvalidPeriod);
        }
        _answers.Set(host, fetch.DelegatedServer, period);
        log.WellKnownFetched(host, fetch.Outcome, period);
        return new(fetch.DelegatedServer, now + period);
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    private static TimeSpan Jittered(TimeSpan period) => period * (1 - Jitter + (2 * Jitter * Random.Shared.NextDouble()));
}
