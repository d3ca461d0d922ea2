using System.Collections.Concurrent;
using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;

namespace Homeserver.Federation.Keys;

/// <summary>
/// Other servers' public keys, for verifying their requests and events: from memory, else PostgreSQL
/// (what any process verified), else the server itself, else the notaries of <c>trusted_key_servers</c>.
/// A key counts only while it is valid at the moment asked about (a request's now, an event's
/// origin_server_ts). Callers asking for the same server share one fetch. A server that could not give
/// the key asked for is not asked again for a while (doubling from a minute up to half an hour), so
/// requests naming made-up keys cannot turn this server into a stream of outbound fetches.
/// </summary>
public sealed class KeyRing(ServerKeyFetcher fetcher, RemoteServerKeyStore store, ServerSigningKeys ownKeys, ProcessSettings settings,
    TimeProvider clock) : IDisposable
{
    public static readonly TimeSpan FirstBackOff = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan LongestBackOff = TimeSpan.FromMinutes(30);

    /// <summary>Keys held in memory; past this the cache starts again from PostgreSQL rather than grow with every server ever seen.</summary>
    private const int MaxCachedKeys = 10_000;

    private readonly ConcurrentDictionary<(string Server, string KeyId), ServerVerifyKey> _cache = new();
    private readonly ConcurrentDictionary<string, Task<IReadOnlyList<ServerVerifyKey>>> _originFetches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Server, string KeyId), Task<IReadOnlyList<ServerVerifyKey>>> _notaryFetches = new();
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, TimeSpan Delay)> _backOff = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The key <paramref name="keyId"/> of <paramref name="serverName"/> if it verifies signatures made at <paramref name="validAtTs"/>.</summary>
    public async Task<ServerVerifyKey?> GetVerifyKeyAsync(string serverName, string keyId, long validAtTs, CancellationToken cancellationToken)
    {
        if (serverName == settings.ServerName)
        {
            var own = await ownKeys.CurrentAsync(cancellationToken);
            return own.KeyId == keyId ? new ServerVerifyKey(serverName, keyId, own.PublicKey, long.MaxValue, Expired: false) : null;
        }
        if (Valid(_cache.GetValueOrDefault((serverName, keyId)), validAtTs) is { } cached) return cached;

        foreach (var stored in await store.GetAsync(serverName, [keyId], cancellationToken))
        {
            Remember(new ServerVerifyKey(stored.ServerName, stored.KeyId, UnpaddedBase64.Decode(stored.VerifyKey), stored.ValidUntilTs, stored.Expired));
        }
        if (Valid(_cache.GetValueOrDefault((serverName, keyId)), validAtTs) is { } fromDatabase) return fromDatabase;

        if (_backOff.TryGetValue(serverName, out var backOff) && backOff.Until > clock.GetUtcNow()) return null;

        await FetchFromOriginAsync(serverName).WaitAsync(cancellationToken);
        if (Valid(_cache.GetValueOrDefault((serverName, keyId)), validAtTs) is { } fromOrigin) return Found(serverName, fromOrigin);

        var notaries = Shared(_notaryFetches, (serverName, keyId), token => fetcher.FromNotariesAsync(serverName, keyId, validAtTs, token));
        await notaries.WaitAsync(cancellationToken);
        if (Valid(_cache.GetValueOrDefault((serverName, keyId)), validAtTs) is { } fromNotary) return Found(serverName, fromNotary);

        BackOff(serverName);
        return null;
    }

    /// <summary>
    /// Asks the server itself for its keys now (one fetch at a time per server, whoever asks), keeps what
    /// verifies and returns it; empty when the server gave nothing that verifies.
    /// </summary>
    public Task<IReadOnlyList<ServerVerifyKey>> FetchFromOriginAsync(string serverName) =>
        Shared(_originFetches, serverName, token => fetcher.FromOriginAsync(serverName, token));

    /// <summary>
    /// <see cref="FetchFromOriginAsync"/> unless the server is in back-off; a fetch that gives nothing starts or
    /// lengthens the back-off. For callers that do not need one key but fresh keys (a notary's cache misses).
    /// </summary>
    public async Task RefreshFromOriginAsync(string serverName, CancellationToken cancellationToken)
    {
        if (serverName == settings.ServerName) return;
        if (_backOff.TryGetValue(serverName, out var backOff) && backOff.Until > clock.GetUtcNow()) return;
        var keys = await FetchFromOriginAsync(serverName).WaitAsync(cancellationToken);
        if (keys.Count > 0) _backOff.TryRemove(serverName, out _);
        else BackOff(serverName);
    }

    private void BackOff(string serverName)
    {
        var delay = _backOff.TryGetValue(serverName, out var last) ? TimeSpan.FromTicks(Math.Min(last.Delay.Ticks * 2, LongestBackOff.Ticks)) : FirstBackOff;
        _backOff[serverName] = (clock.GetUtcNow() + delay, delay);
    }

    private ServerVerifyKey Found(string serverName, ServerVerifyKey key)
    {
        _backOff.TryRemove(serverName, out _);
        return key;
    }

    /// <summary>
    /// Runs <paramref name="fetch"/> once for everyone asking under <paramref name="key"/> meanwhile. It runs to its own end
    /// (bounded by the fetcher's timeouts and the key ring's life), not a caller's: one caller giving up
    /// does not fail the others.
    /// </summary>
    private Task<IReadOnlyList<ServerVerifyKey>> Shared<TKey>(ConcurrentDictionary<TKey, Task<IReadOnlyList<ServerVerifyKey>>> running, TKey key,
        Func<CancellationToken, Task<IReadOnlyList<ServerVerifyKey>>> fetch) where TKey : notnull
    {
        while (true)
        {
            if (running.TryGetValue(key, out var existing)) return existing;
            var started = new TaskCompletionSource<IReadOnlyList<ServerVerifyKey>>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!running.TryAdd(key, started.Task)) continue;
            _ = RunAsync();
            return started.Task;

            async Task RunAsync()
            {
                try
                {
                    var keys = await fetch(_stopping.Token);
                    foreach (var k in keys) Remember(k);
                    started.SetResult(keys);
                }
                catch (Exception e)
                {
                    started.SetException(e);
                }
                finally
                {
                    running.TryRemove(new KeyValuePair<TKey, Task<IReadOnlyList<ServerVerifyKey>>>(key, started.Task));
                }
            }
        }
    }

    /// <summary>Ends fetches still running when the process stops.</summary>
    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private void Remember(ServerVerifyKey key)
    {
        if (_cache.Count >= MaxCachedKeys) _cache.Clear();
        _cache.AddOrUpdate((key.ServerName, key.KeyId), key, (_, known) => key.ValidUntilTs >= known.ValidUntilTs ? key : known);
    }

    private static ServerVerifyKey? Valid(ServerVerifyKey? key, long validAtTs) => key is not null && key.ValidUntilTs >= validAtTs ? key : null;
}
