using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Interfaces.Users;
using Microsoft.Extensions.Hosting;
using Orleans.Streams;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Wakes long-polling /sync requests when the events stream moves. Every waiter is woken and
/// recomputes from PostgreSQL positions, so a missed or duplicated wake-up costs a query, never
/// an event.
/// </summary>
public sealed class SyncNotifier(IStreamProvider streams) : IHostedService
{
    private TaskCompletionSource _changed = NewSignal();
    private StreamSubscriptionHandle? _subscription;
    private StreamSubscriptionHandle? _accountData;
    private long _latest;
    private long _latestAccountData;

    /// <summary>The highest events-stream position announced so far.</summary>
    public long Latest => Interlocked.Read(ref _latest);

    /// <summary>The highest account_data position announced so far.</summary>
    public long LatestAccountData => Interlocked.Read(ref _latestAccountData);

    /// <summary>Completes at the next stream row (or never, until <paramref name="cancellationToken"/>).</summary>
    public Task NextChangeAsync(CancellationToken cancellationToken) => Volatile.Read(ref _changed).Task.WaitAsync(cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = await streams.GetStream<EventStreamRow>(StreamId.Create(StreamNames.Events))
            .SubscribeAsync((_, token) => Announce(ref _latest, token.Position));
        _accountData = await streams.GetStream<AccountDataStreamRow>(StreamId.Create(StreamNames.AccountData))
            .SubscribeAsync((_, token) => Announce(ref _latestAccountData, token.Position));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null) await _subscription.DisposeAsync();
        if (_accountData is not null) await _accountData.DisposeAsync();
    }

    /// <summary>Wakes every waiting /sync, for streams this class does not follow itself.</summary>
    public void Wake() => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    private Task Announce(ref long latest, long position)
    {
        AtomicMax.Raise(ref latest, position);
        Wake();
        return Task.CompletedTask;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
