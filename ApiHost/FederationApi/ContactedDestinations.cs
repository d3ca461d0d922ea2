using System.Collections.Concurrent;
using Homeserver.ApiHost.Hosting;
using Homeserver.Grains.Interfaces.Federation;
using Orleans;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// A server that sends us an authenticated request is up again (server-server-api: a sender should retry a
/// destination at once when it hears from it): its sender grain is told to drop any backoff and catch it up.
/// At most once per <see cref="Interval"/> per server and host, without holding up the request, so a chatty
/// peer costs one grain call a minute, not one per request.
/// </summary>
public sealed class ContactedDestinations(IGrainFactory grains, TimeProvider clock, ApiHostLog log)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Servers remembered at once; a host that hears from more forgets them all and starts again.</summary>
    private const int MaxRemembered = 10_000;

    private readonly ConcurrentDictionary<string, long> _lastReset = new(StringComparer.Ordinal);

    public void Contacted(string origin)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (_lastReset.TryGetValue(origin, out var last) && now - last < Interval.TotalMilliseconds) return;
        if (_lastReset.Count >= MaxRemembered) _lastReset.Clear();
        _lastReset[origin] = now;
        _ = ResetAsync(origin);
    }

    private async Task ResetAsync(string origin)
    {
        try
        {
            await grains.GetGrain<IFederationSenderGrain>(origin).ResetBackoffAsync();
        }
        catch (Exception e)
        {
            // Only an early retry is lost: the backoff still ends by itself.
            _lastReset.TryRemove(origin, out _);
            log.DestinationResetFailed(e, origin);
        }
    }
}
