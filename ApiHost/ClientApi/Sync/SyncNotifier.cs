using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Grains.Interfaces.Users;
using Microsoft.Extensions.Hosting;
using Orleans.Streams;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Wakes long-polling /sync requests when any stream a sync reads moves. Every waiter is woken and
/// recomputes from PostgreSQL positions, so a missed or duplicated wake-up costs a query, never
/// an event.
/// </summary>
public sealed class SyncNotifier(IStreamProvider streams) : IHostedService
{
    private static readonly string[] UserStreams = [StreamNames.Receipts, StreamNames.ToDevice, StreamNames.DeviceLists, StreamNames.Presence, StreamNames.PushRules];

    private readonly List<StreamSubscriptionHandle> _subscriptions = [];
    private TaskCompletionSource _changed = NewSignal();
    private long _events, _accountData, _receipts, _toDevice, _deviceLists, _presence, _pushRules;

    /// <summary>Completes at the next stream row (or never, until <paramref name="cancellationToken"/>).</summary>
    public Task NextChangeAsync(CancellationToken cancellationToken) => Volatile.Read(ref _changed).Task.WaitAsync(cancellationToken);

    /// <summary>Whether a row was announced beyond the token: its position is not yet safe to read, so look again soon.</summary>
    public bool IsAheadOf(SyncToken token) =>
        Interlocked.Read(ref _events) > token.Events || Interlocked.Read(ref _accountData) > token.AccountData ||
        Interlocked.Read(ref _receipts) > token.Receipts || Interlocked.Read(ref _toDevice) > token.ToDevice ||
        Interlocked.Read(ref _deviceLists) > token.DeviceLists || Interlocked.Read(ref _presence) > token.Presence ||
        Interlocked.Read(ref _pushRules) > token.PushRules;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscriptions.Add(await streams.GetStream<EventStreamRow>(StreamId.Create(StreamNames.Events))
            .SubscribeAsync((_, token) => Announce(ref _events, token.Position)));
        _subscriptions.Add(await streams.GetStream<AccountDataStreamRow>(StreamId.Create(StreamNames.AccountData))
            .SubscribeAsync((_, token) => Announce(ref _accountData, token.Position)));
        foreach (var stream in UserStreams)
        {
            _subscriptions.Add(await streams.GetStream<UserStreamRow>(StreamId.Create(stream))
                .SubscribeAsync((_, token) => Announce(ref LatestOf(stream), token.Position)));
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var subscription in _subscriptions) await subscription.DisposeAsync();
        _subscriptions.Clear();
    }

    /// <summary>Wakes every waiting /sync, for streams this class does not follow itself.</summary>
    public void Wake() => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    private ref long LatestOf(string stream)
    {
        switch (stream)
        {
            case StreamNames.Receipts: return ref _receipts;
            case StreamNames.ToDevice: return ref _toDevice;
            case StreamNames.DeviceLists: return ref _deviceLists;
            case StreamNames.Presence: return ref _presence;
            case StreamNames.PushRules: return ref _pushRules;
            default: throw new ArgumentOutOfRangeException(nameof(stream), stream, "Not a per-user stream.");
        }
    }

    private Task Announce(ref long latest, long position)
    {
        AtomicMax.Raise(ref latest, position);
        Wake();
        return Task.CompletedTask;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
