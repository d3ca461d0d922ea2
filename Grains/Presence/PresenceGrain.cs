using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Presence;
using Homeserver.Grains.Streams;
using Homeserver.Storage.Presence;
using Orleans;
using Homeserver.Grains.Placement;
using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces.Federation;

namespace Homeserver.Grains.Presence;

/// <summary>
/// One user's presence. Syncing keeps the user online; when syncs stop for <see cref="SyncTimeout"/>
/// the user goes offline (Synapse does the same). State lives in PostgreSQL; this activation only
/// remembers when the user last synced.
/// </summary>
[WriterPlacement(StreamNames.Presence)]
public sealed class PresenceGrain(PresenceStore store, StreamPublisher publisher, RoomEduFanOut federation, ProcessSettings settings, TimeProvider clock)
    : Grain, IPresenceGrain
{
    public static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ActiveRefresh = TimeSpan.FromSeconds(60);

    private PresenceRow? _current;
    private bool _loaded;
    private DateTimeOffset _lastSync;
    private IDisposable? _timeout;

    private string UserId => this.GetPrimaryKeyString();

    public async Task SetPresenceAsync(string state, string? statusMessage, CancellationToken cancellationToken)
    {
        await LoadAsync();
        await WriteAsync(state, statusMessage, state == "online");
    }

    public async Task SyncedAsync(string state, CancellationToken cancellationToken)
    {
        await LoadAsync();
        var now = clock.GetUtcNow();
        _lastSync = now;
        _timeout ??= this.RegisterGrainTimer(_ => TimeOutAsync(), SyncTimeout / 4, SyncTimeout / 4);
        // Write only when something a client would see changes: the state, or a stale last_active.
        if (_current is { } c && c.State == state && now.ToUnixTimeMilliseconds() - c.LastActiveTs < ActiveRefresh.TotalMilliseconds) return;
        await WriteAsync(state, _current?.StatusMessage, state == "online");
    }

    public async Task SetRemotePresenceAsync(string state, string? statusMessage, long lastActiveAgo, bool currentlyActive, CancellationToken cancellationToken)
    {
        if (IsLocal) return;
        var row = new PresenceRow(UserId, state, statusMessage, clock.GetUtcNow().ToUnixTimeMilliseconds() - Math.Max(0, lastActiveAgo), currentlyActive);
        var position = await store.SetAsync(row, publisher.Writer(StreamNames.Presence));
        _current = row;
        _loaded = true;
        await publisher.PublishToPeersAsync(StreamNames.Presence, UserId, position);
    }

    private bool IsLocal => FederationDestinations.IsOurs(UserId, settings.ServerName);

    private async Task TimeOutAsync()
    {
        if (clock.GetUtcNow() - _lastSync < SyncTimeout) return;
        _timeout?.Dispose();
        _timeout = null;
        if (_current is { State: not "offline" }) await WriteAsync("offline", _current.StatusMessage, false);
    }

    private async Task LoadAsync()
    {
        if (_loaded) return;
        _current = await store.GetAsync(UserId);
        _loaded = true;
    }

    private async Task WriteAsync(string state, string? statusMessage, bool active)
    {
        var row = new PresenceRow(UserId, state, statusMessage, active || _current is null ? clock.GetUtcNow().ToUnixTimeMilliseconds() : _current.LastActiveTs, active);
        var position = await store.SetAsync(row, publisher.Writer(StreamNames.Presence));
        _current = row;
        await publisher.PublishToPeersAsync(StreamNames.Presence, UserId, position);
        if (!IsLocal) return;
        var update = new JsonObject
        {
            ["user_id"] = UserId,
            ["presence"] = state,
            ["last_active_ago"] = Math.Max(0, clock.GetUtcNow().ToUnixTimeMilliseconds() - row.LastActiveTs),
            ["currently_active"] = active,
        };
        if (statusMessage is not null) update["status_msg"] = statusMessage;
        await federation.SendToUserServersAsync(UserId, new Edu("m.presence", new JsonObject { ["push"] = new JsonArray(update) }), CancellationToken.None);
    }
}
