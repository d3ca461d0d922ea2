using System.Collections.Concurrent;
using Homeserver.Grains.Interfaces.Presence;
using Microsoft.Extensions.Logging;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Tells the presence writer that a user is syncing (<c>set_presence</c>), at most once per
/// <see cref="Interval"/> per user and state from this host, so a busy sync loop costs no grain calls.
/// </summary>
public sealed partial class PresenceOnSync(IGrainFactory grains, TimeProvider clock, ILogger<PresenceOnSync> logger)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, (string State, DateTimeOffset At)> _told = new(StringComparer.Ordinal);

    public async Task SyncedAsync(string userId, string state)
    {
        // "offline" means the client does not want to be marked online by this sync.
        if (state == "offline") return;
        var now = clock.GetUtcNow();
        if (_told.TryGetValue(userId, out var last) && last.State == state && now - last.At < Interval) return;
        _told[userId] = (state, now);
        try
        {
            await grains.GetGrain<IPresenceGrain>(userId).SyncedAsync(state);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Presence is advisory: an unreachable presence writer must not fail the sync itself.
            _told.TryRemove(userId, out _);
            PresenceUpdateFailed(e, userId);
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Marking {UserId} present on sync failed")]
    private partial void PresenceUpdateFailed(Exception exception, string userId);
}
