using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Protocol;
using Homeserver.Storage.Push;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;

namespace Homeserver.Grains.Push;

/// <summary>
/// Each user's composed push rules for room grains evaluating events, kept fresh by the push_rules
/// stream. An event persisted in the moment between a rule change and its stream row uses the old
/// rules, as in Synapse.
/// </summary>
public sealed class PushRuleCache(PushRuleStore store, ReplicationStreams streams)
{
    private readonly ConcurrentDictionary<string, JsonObject> _rules = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _subscribing = new(1, 1);
    private volatile bool _subscribed;

    public async Task<JsonObject> GetAsync(string userId)
    {
        await EnsureSubscribedAsync();
        if (_rules.TryGetValue(userId, out var cached)) return cached;
        var composed = PushRuleSet.FromChanges(await store.GetChangesAsync(userId)).Compose(userId);
        _rules.TryAdd(userId, composed);
        return composed;
    }

    private async Task EnsureSubscribedAsync()
    {
        if (_subscribed) return;
        await _subscribing.WaitAsync();
        try
        {
            if (_subscribed) return;
            // Off the calling grain's scheduler: subscribed from inside a grain, Orleans would make that
            // activation the consumer, and the cache would go deaf when it deactivates.
            await Task.Run(() => streams.Get<UserStreamRow>(StreamId.Create(StreamNames.PushRules, "")).SubscribeAsync((row, _) =>
            {
                _rules.TryRemove(row.UserId, out JsonObject? _);
                return Task.CompletedTask;
            }));
            _subscribed = true;
        }
        finally
        {
            _subscribing.Release();
        }
    }
}
