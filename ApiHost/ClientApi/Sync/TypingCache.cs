using System.Collections.Concurrent;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Typing;
using Microsoft.Extensions.Hosting;
using Orleans.Streams;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The latest typing set of each room, as the typing stream announced it, for /sync. Typing is
/// ephemeral: an API host that restarts learns a room's typing users again at the next change.
/// </summary>
public sealed class TypingCache(IStreamProvider streams, SyncNotifier notifier) : IHostedService
{
    private readonly ConcurrentDictionary<string, (long Position, IReadOnlyList<string> UserIds)> _rooms = new(StringComparer.Ordinal);
    private StreamSubscriptionHandle? _subscription;
    private long _latest;

    /// <summary>The highest typing position seen.</summary>
    public long Latest => Interlocked.Read(ref _latest);

    /// <summary>The room's typing users if they changed after <paramref name="since"/>.</summary>
    public IReadOnlyList<string>? ChangedSince(string roomId, long since) =>
        _rooms.TryGetValue(roomId, out var entry) && entry.Position > since ? entry.UserIds : null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = await streams.GetStream<TypingStreamRow>(StreamId.Create(StreamNames.Typing)).SubscribeAsync((row, token) =>
        {
            _rooms.AddOrUpdate(row.RoomId, (token.Position, row.UserIds),
                (_, old) => token.Position > old.Position ? (token.Position, row.UserIds) : old);
            AtomicMax.Raise(ref _latest, token.Position);
            notifier.Wake();
            return Task.CompletedTask;
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null) await _subscription.DisposeAsync();
    }
}
