using System.Collections.Concurrent;
using Homeserver.Grains.Interfaces.Caches;
using Homeserver.Storage.Accounts;
using Microsoft.Extensions.Hosting;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;

namespace Homeserver.ApiHost.Auth;

/// <summary>
/// Access tokens this API host has resolved, so most requests skip a PostgreSQL round trip. A
/// logout, device deletion, password change or deactivation sends a row on the <c>caches</c> stream
/// and every host drops that user's tokens; the stream catches up from PostgreSQL, so a delivery the
/// Orleans stream lost only delays that. A per-user generation keeps a lookup that raced an invalidation out of
/// the cache, and entries also expire after <see cref="Lifetime"/>, so no stale token outlives it.
/// </summary>
public sealed class AccessTokenCache(AccountStore accounts, ReplicationStreams streams, TimeProvider clock) : IHostedService
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, (AccessTokenOwner Owner, DateTimeOffset Until)> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _generations = new(StringComparer.Ordinal);
    private CatchUpSubscription<CacheInvalidationRow>? _subscription;

    public async Task<AccessTokenOwner?> FindOwnerAsync(string accessToken, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_tokens.TryGetValue(accessToken, out var cached) && cached.Until > now) return cached.Owner;
        var owner = await accounts.FindTokenOwnerAsync(accessToken, cancellationToken);
        if (owner is null) return null;
        var generation = _generations.GetValueOrDefault(owner.UserId);
        if (_tokens.Count >= MaxEntries) _tokens.Clear();
        _tokens[accessToken] = (owner, now + Lifetime);
        // An invalidation of this user that arrived while PostgreSQL answered may predate our read: drop it again.
        if (_generations.GetValueOrDefault(owner.UserId) != generation) _tokens.TryRemove(accessToken, out _);
        return owner;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = await streams.Get<CacheInvalidationRow>(StreamId.Create("caches", "")).SubscribeAsync((row, _) =>
        {
            if (row.CacheName == CacheInvalidationRow.AccessTokens) Forget(row.Key);
            return Task.CompletedTask;
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null) await _subscription.DisposeAsync();
    }

    /// <summary>Drops every cached token of the user; the host that handled a logout calls it at once, the others hear the stream.</summary>
    public void Forget(string userId)
    {
        _generations.AddOrUpdate(userId, 1, (_, g) => g + 1);
        foreach (var (token, entry) in _tokens)
        {
            if (entry.Owner.UserId == userId) _tokens.TryRemove(token, out _);
        }
    }
}
