using Homeserver.Grains.Interfaces.Streams;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Streams;

namespace Homeserver.Cluster.Streams;

/// <summary>
/// The homeserver's replication streams (events, caches, per-user streams, sync hints, typing) on
/// Orleans streams. Publishing sends a row that is already durable at its position; subscribing
/// gives every row after a position exactly once, in position order, catching up from the durable
/// record (where one is registered) for whatever the Orleans provider did not deliver.
/// </summary>
public sealed class ReplicationStreams(IClusterClient cluster, IServiceProvider services, StreamDeliveryAlerts alerts, StreamsLog log,
    ReplicationStreamOptions options)
{
    private readonly SubscriptionCounts _subscriptions = new();

    /// <summary>The Orleans stream provider every process registers under this name.</summary>
    public const string ProviderName = "replication";

    /// <summary>The grain storage holding the stream subscriptions (Orleans' pub/sub rendezvous).</summary>
    public const string PubSubStoreName = "PubSubStore";

    public ReplicatedStream<T> Get<T>(StreamId id) => new(id,
        cluster.GetStreamProvider(ProviderName).GetStream<ReplicatedRow<T>>(id),
        services.GetService<IStreamCatchUpSource<T>>(), alerts, log, options, _subscriptions);

    /// <summary>How many live subscriptions this process holds on <paramref name="id"/>.</summary>
    public int SubscriptionCount(StreamId id) => _subscriptions.Get(id);

    /// <summary>Every stream this process subscribes to, with its subscription count.</summary>
    public int SubscribedStreamCount => _subscriptions.StreamCount;
}

public sealed class SubscriptionCounts
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<StreamId, int> _counts = new();

    public int StreamCount => _counts.Count;

    public int Get(StreamId id) => _counts.GetValueOrDefault(id);

    public void Add(StreamId id) => _counts.AddOrUpdate(id, 1, (_, n) => n + 1);

    public void Remove(StreamId id)
    {
        if (_counts.AddOrUpdate(id, 0, (_, n) => n - 1) <= 0) _counts.TryRemove(KeyValuePair.Create(id, 0));
    }
}

public sealed class ReplicationStreamOptions
{
    /// <summary>How often a subscription checks the durable record for rows the provider silently dropped.</summary>
    public TimeSpan CatchUpInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class ReplicatedStream<T>(
    StreamId id,
    IAsyncStream<ReplicatedRow<T>> stream,
    IStreamCatchUpSource<T>? catchUp,
    StreamDeliveryAlerts alerts,
    StreamsLog log,
    ReplicationStreamOptions options,
    SubscriptionCounts counts)
{
    public StreamId Id => id;

    /// <summary>Publishes a row that is already durable at <paramref name="position"/>.</summary>
    public Task PublishAsync(T row, long position) => stream.OnNextAsync(new ReplicatedRow<T>(position, row));

    /// <summary>
    /// Delivers every row after <paramref name="from"/> (without it: after the durable record's safe
    /// position now, or, for streams without one, whatever is published from now on) exactly once, one at a time.
    /// </summary>
    public async Task<CatchUpSubscription<T>> SubscribeAsync(Func<T, long, Task> onNext, long? from = null)
    {
        long start;
        if (from is { } given) start = given;
        else if (catchUp is not null) start = await catchUp.GetSafePositionAsync(id, CancellationToken.None).ConfigureAwait(false);
        else start = long.MinValue;

        var subscription = new CatchUpSubscription<T>(id, onNext, catchUp, alerts, log, start, () => counts.Remove(id));
        await subscription.AttachAsync(stream, options.CatchUpInterval).ConfigureAwait(false);
        counts.Add(id);
        return subscription;
    }
}
