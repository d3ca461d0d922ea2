using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Remote;

namespace Orleans.Streams;

/// <summary>
/// Exactly-once delivery over an at-most-once transport.
///
/// Positions come from one PostgreSQL sequence shared by every writer, so rows can be published
/// out of order and a transport can drop some. The subscription keeps a watermark (every position
/// at or below it is delivered or never existed) and the set of positions above it already
/// delivered. A live row is delivered unless already seen. A catch-up asks the durable record for
/// its safe position S (below which all writers have committed), delivers the unseen rows in
/// (watermark, S], then moves the watermark to S and forgets the seen positions below it. Catch-up
/// runs at subscribe time, when the transport reconnects, and periodically as a safety net.
/// All deliveries go through one queue, so the handler never runs concurrently with itself.
///
/// The first catch-up waits (briefly) until every position handed out before the subscription
/// started is safe, and live rows queue behind it: so a late subscriber gets the backlog first,
/// in position order, then live rows, and a room's events arrive in the room's order.
/// </summary>
internal sealed class StreamSubscription<T> : StreamSubscriptionHandle
{
    private readonly StreamId _id;
    private readonly Func<T, StreamSequenceToken, Task> _onNext;
    private readonly IStreamCatchUpSource<T>? _catchUp;
    private readonly RuntimeLog _log;
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SortedSet<long> _seenAboveWatermark = [];
    private readonly CancellationTokenSource _stop = new();
    private IAsyncDisposable? _transportSubscription;
    private IStreamTransport? _transport;
    private Task? _loop;
    private Timer? _periodic;
    private long _watermark;

    public StreamSubscription(StreamId id, Func<T, StreamSequenceToken, Task> onNext, IStreamCatchUpSource<T>? catchUp,
        RuntimeLog log, long start)
    {
        _id = id;
        _onNext = onNext;
        _catchUp = catchUp;
        _log = log;
        _watermark = start;
    }

    public override long Watermark => Interlocked.Read(ref _watermark);

    public async Task AttachAsync(IStreamTransport transport, string channel, TimeSpan catchUpInterval)
    {
        _transport = transport;
        _loop = Task.Run(RunAsync);
        _transportSubscription = await transport.SubscribeAsync(channel, OnMessage).ConfigureAwait(false);
        transport.MayHaveLostMessages += RequestCatchUp;
        if (_catchUp is not null)
        {
            _queue.Writer.TryWrite(new Work(null, null, Initial: true));
            _periodic = new Timer(_ => RequestCatchUp(), null, catchUpInterval, catchUpInterval);
        }
    }

    public override Task CatchUpAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Work(null, done))) done.SetResult();
        return done.Task;
    }

    public override async ValueTask UnsubscribeAsync()
    {
        if (_transport is not null) _transport.MayHaveLostMessages -= RequestCatchUp;
        if (_periodic is not null) await _periodic.DisposeAsync().ConfigureAwait(false);
        if (_transportSubscription is not null) await _transportSubscription.DisposeAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        _stop.Cancel();
        if (_loop is not null) await _loop.ConfigureAwait(false);
    }

    private void RequestCatchUp() => _queue.Writer.TryWrite(new Work(null, null));

    private void OnMessage(string payload)
    {
        var node = JsonNode.Parse(payload)!;
        var position = node["p"]!.GetValue<long>();
        var item = node["i"].Deserialize<T>(GrainJson.Options)!;
        _queue.Writer.TryWrite(new Work(new StreamItem<T>(position, item), null));
    }

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
            _log.StreamCatchUpFailed(e, _id.ToString(), _watermark);
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
            _log.StreamCatchUpFailed(e, _id.ToString(), from);
        }
    }

    private async Task DeliverAsync(StreamItem<T> row)
    {
        // Without a durable record there is nothing to deduplicate against: deliver what arrives.
        if (_catchUp is not null && (row.Position <= _watermark || !_seenAboveWatermark.Add(row.Position))) return;
        try
        {
            await _onNext(row.Item, new StreamSequenceToken(row.Position)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.StreamSubscriberFailed(e, _id.ToString(), row.Position);
        }
    }

    private static readonly TimeSpan InitialCatchUpPatience = TimeSpan.FromSeconds(10);

    private sealed record Work(StreamItem<T>? Live, TaskCompletionSource? Done, bool Initial = false);
}
