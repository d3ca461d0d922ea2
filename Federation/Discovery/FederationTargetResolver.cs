using System.Collections.Concurrent;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Discovery;

/// <summary>
/// Where to send requests for a server name: <see cref="ServerDiscovery"/> over the cached well-known and
/// SRV lookups, its result cached per server name until the first answer it rests on expires. Callers
/// asking for the same name at once share one resolution (a burst of transactions to a new server
/// fetches its well-known once); each caller still stops waiting when its own token says so.
/// </summary>
public sealed class FederationTargetResolver(WellKnownResolver wellKnown, SrvResolver srv, TimeProvider clock,
    IOptions<FederationTransportOptions> options)
{
    /// <summary>How long targets that rest on no lookup (IP literals, explicit ports) are kept.</summary>
    private static readonly TimeSpan Longest = TimeSpan.FromHours(24);

    private readonly ExpiringCache<string, IReadOnlyList<FederationTarget>> _targets = new(options.Value.CacheCapacity, clock);
    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<FederationTarget>>>> _inFlight = new();

    public async Task<IReadOnlyList<FederationTarget>> ResolveAsync(ServerName serverName, CancellationToken cancellationToken)
    {
        if (_targets.TryGetFresh(serverName.Value, out var cached)) return cached;
        var resolution = _inFlight.GetOrAdd(serverName.Value, _ => new Lazy<Task<IReadOnlyList<FederationTarget>>>(() => ResolveSharedAsync(serverName)));
        return await resolution.Value.WaitAsync(cancellationToken);
    }

    /// <summary>Forgets a server's targets, so the next request resolves it again (after every target failed, say).</summary>
    public void Forget(ServerName serverName) => _targets.Remove(serverName.Value);

    private async Task<IReadOnlyList<FederationTarget>> ResolveSharedAsync(ServerName serverName)
    {
        try
        {
            // No caller's token: the lookups bound themselves (DNS and well-known timeouts), and one caller giving up must not fail the others.
            var now = clock.GetUtcNow();
            var lookups = new RecordingLookups(wellKnown, srv, now + Longest);
            var targets = await ServerDiscovery.ResolveAsync(serverName, lookups, CancellationToken.None);
            if (lookups.Expires > now) _targets.Set(serverName.Value, targets, lookups.Expires - now);
            return targets;
        }
        finally
        {
            _inFlight.TryRemove(serverName.Value, out _);
        }
    }
}
