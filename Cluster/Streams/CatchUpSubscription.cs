using System.Threading.Channels;
using Homeserver.Grains.Interfaces.Streams;
using Orleans.Runtime;
using Orleans.Streams;

namespace Homeserver.Cluster.Streams;

/// <summary>
/// Exactly-once delivery over an at-most-once Orleans stream.
///
/// Positions come from one PostgreSQL sequence shared by every writer, so rows can be published
/// out of order, and a stream provider can drop some (memory streams lose what a dead silo's queues held). The subscription keeps a watermark (every position
/// at or below it is delivered or never existed) and the set of positions above it already
/// delivered. A live row is delivered unless already seen. A catch-up asks the durable record for
/// its safe position S (below which all writers have committed), delivers the unseen rows in
/// (watermark, S], then moves the watermark to S and forgets the seen positions below it. Catch-up
/// runs at subscribe time, when deliveries may have been lost (a gateway or silo went away), and
/// periodically as a safety net.
/// All deliveries go through one queue, so the handler never runs concurrently with itself.
///
/// The first catch-up waits (briefly) until every position handed out before the subscription
/// started is safe, and live rows queue behind it: so a late subscriber gets the backlog first,
/// in position order, then live rows, and a room's events arrive in the room's order.
/// </summary>
public sealed class CatchUpSubscription<T> : IAsyncDisposable
{
    private readonly StreamId _id;
    private readonly Func<T, long, Task> _onNext;
    private readonly IStreamCatchUpSource<T>? _catchUp;
    private readonly StreamDeliveryAlerts _alerts;
    private readonly StreamsLog _log;
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SortedSet<long> _seenAboveWatermark = [];
    private readonly CancellationTokenSource _stop = new();
    private StreamSubscriptionHandle<ReplicatedRow<T>>? _orleansSubscription;
    private Task? _loop;
    private Timer? _periodic;
    private long _watermark;
    private readonly Action _onDisposed;
    private int _disposed;

    internal CatchUpSubscription(StreamId id, Func<T, long, Task> onNext, IStreamCatchUpSource<T>? catchUp,
        StreamDeliveryAlerts alerts, StreamsLog log, long start, Action onDisposed)
    {
        _onDisposed = onDisposed;
        _id = id;
        _onNext = onNext;
        _catchUp = catchUp;
        _alerts = alerts;
        _log = log;
        _watermark = start;
    }

    /// <summary>Every position at or below this has been delivered (or never existed).</summary>
    public long Watermark => Interlocked.Read(ref _watermark);

    internal async Task AttachAsync(IAsyncStream<ReplicatedRow<T>> stream, TimeSpan catchUpInterval)
    {
        _loop = Task.Run(RunAsync);
        _orleansSubscription = await stream.SubscribeAsync((row, _) =>
        {
            _queue.Writer.TryWrite(new Work(new StreamItem<T>(row.Position, row.Row), null));
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        _alerts.MayHaveLostRows += RequestCatchUp;
        if (_catchUp is not null)
        {
            _queue.Writer.TryWrite(new Work(null, null, Initial: true));
            _periodic = new Timer(_ => RequestCatchUp(), null, catchUpInterval, catchUpInterval);
        }
    }

    /// <summary>Reads the durable record for anything the stream lost, up to the source's safe position.</summary>
    public Task CatchUpAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Work(null, done))) done.SetResult();
        return done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _onDisposed();
        _alerts.MayHaveLostRows -= RequestCatchUp;
        if (_periodic is not null) await _periodic.DisposeAsync().ConfigureAwait(false);
        if (_orleansSubscription is not null)
        {
            try
            {
                await _orleansSubscription.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or SiloUnavailableException or ObjectDisposedException)
            {
                // The cluster is going or gone; its pub/sub forgets a consumer that no longer answers.
            }
        }
        _queue.Writer.TryComplete();
        _stop.Cancel();
        if (_loop is not null) await _loop.ConfigureAwait(false);
    }

    private void RequestCatchUp() => _queue.Writer.TryWrite(new Work(null, null));

    private async Task RunAsync()
    {
        try
        {
            await foreach (var work in _queue.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                if (work.Live is { } live) await DeliverAsync(live).ConfigureAwait(false);
                else if (work.Initial) await InitialCatchUpAsync().ConfigureAwait(false);
                else await CatchUpNowAsync().ConfigureAwait(false);
                work.Done?.TrySetResult();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task InitialCatchUpAsync()
    {
        try
        {
            var target = await _catchUp!.GetLatestPositionAsync(_id, _stop.Token).ConfigureAwait(false);
            var deadline = DateTime.UtcNow + InitialCatchUpPatience;
            while (await _catchUp.GetSafePositionAsync(_id, _stop.Token).ConfigureAwait(false) < target && DateTime.UtcNow < deadline)
            {
                // Writers persist their positions every few hundred milliseconds; a writer that died
                // holds the safe position back, and the periodic catch-up covers what is left.
                await Task.Delay(TimeSpan.FromMilliseconds(50), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _log.CatchUpFailed(e, _id.ToString(), _watermark);
        }
        await CatchUpNowAsync().ConfigureAwait(false);
    }

    private async Task CatchUpNowAsync()
    {
        if (_catchUp is null) return;
        var from = _watermark;
        try
        {
            var upTo = await _catchUp.GetSafePositionAsync(_id, _stop.Token).ConfigureAwait(false);
            if (upTo <= from) return;
            foreach (var row in await _catchUp.ReadAsync(_id, from, upTo, _stop.Token).ConfigureAwait(false))
            {
                await DeliverAsync(row).ConfigureAwait(false);
            }
            Interlocked.Exchange(ref _watermark, upTo);
            _seenAboveWatermark.RemoveWhere(p => p <= upTo);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _log.CatchUpFailed(e, _id.ToString(), from);
        }
    }

    private async Task DeliverAsync(StreamItem<T> row)
    {
        // Without a durable record there is nothing to deduplicate against: deliver what arrives.
        if (_catchUp is not null && (row.Position <= _watermark || !_seenAboveWatermark.Add(row.Position))) return;
        try
        {
            await _onNext(row.Item, row.Position).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.SubscriberFailed(e, _id.ToString(), row.Position);
        }
    }

    private static readonly TimeSpan InitialCatchUpPatience = TimeSpan.FromSeconds(10);

    private sealed record Work(StreamItem<T>? Live, TaskCompletionSource? Done, bool Initial = false);
}
