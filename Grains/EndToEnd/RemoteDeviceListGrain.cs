using Homeserver.Federation.Transport;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Placement;
using Homeserver.Storage.EndToEnd;
using Orleans;

namespace Homeserver.Grains.EndToEnd;

/// <summary>
/// One remote user's cached device list. Calls only queue updates, so a peer's <c>/send</c> never waits on a
/// request back to it; one loop per activation works them off in order (the grain's turns stand in for
/// Synapse's per-user linearizer), batching what arrived meanwhile: updates that follow the chain are applied,
/// otherwise the whole list is fetched with <c>GET /user/devices</c>, and a failed fetch marks the list stale
/// so the next update tries again. Work is bounded: at most <see cref="MaxPending"/> updates wait (beyond, they
/// are dropped for one resync), one fetch is in flight, and a snapshot holds at most
/// <see cref="DeviceListChain.MaxDevices"/> devices.
/// </summary>
[WriterPlacement(StreamNames.DeviceLists)]
public sealed class RemoteDeviceListGrain(RemoteDeviceListStore store, IFederationClient federation, RemoteDeviceListLog log)
    : Grain, IRemoteDeviceListGrain
{
    public const int MaxPending = 1000;

    private const int MaxSeen = 1000;
    private const long MaxSnapshotBytes = 4 * 1024 * 1024;
    private static readonly TimeSpan ResyncTimeout = TimeSpan.FromSeconds(30);

    private readonly List<RemoteDeviceListUpdate> _pending = [];
    // Stream IDs applied since the last resync, which a later update may name as prev_id (Synapse's seen updates).
    private readonly HashSet<long> _seen = [];
    private bool _resyncWanted;
    private bool _running;

    private string UserId => this.GetPrimaryKeyString();

    public Task UpdateAsync(IReadOnlyList<RemoteDeviceListUpdate> updates, CancellationToken cancellationToken)
    {
        foreach (var update in updates)
        {
            if (_pending.Count >= MaxPending)
            {
                _pending.Clear();
                _resyncWanted = true;
            }
            _pending.Add(update);
        }
        if (!_running)
        {
            _running = true;
            _ = WorkAsync();
        }
        return Task.CompletedTask;
    }

    private async Task WorkAsync()
    {
        try
        {
            while (_pending.Count > 0 || _resyncWanted)
            {
                var updates = _pending.ToList();
                _pending.Clear();
                var resync = _resyncWanted;
                _resyncWanted = false;
                try
                {
                    var extremity = await store.GetExtremityAsync(UserId, CancellationToken.None);
                    var changed = resync || DeviceListChain.NeedsResync(extremity, _seen, updates)
                        ? await ResyncAsync(extremity is not null)
                        : await ApplyAsync(extremity!, updates);
                    if (changed) await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DeviceListChangedAsync(CancellationToken.None);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.UpdateFailed(e, UserId);
                }
            }
        }
        finally
        {
            _running = false;
        }
    }

    private async Task<bool> ApplyAsync(RemoteDeviceListExtremity extremity, IReadOnlyList<RemoteDeviceListUpdate> updates)
    {
        var applied = false;
        foreach (var update in updates)
        {
            if (update.StreamId == extremity.StreamId || _seen.Contains(update.StreamId)) continue;
            await store.ApplyAsync(UserId, update.StreamId, update.DeviceId, update.Deleted ? null : update.Device.ToJsonString(), CancellationToken.None);
            if (_seen.Count >= MaxSeen) _seen.Clear();
            _seen.Add(update.StreamId);
            applied = true;
        }
        return applied;
    }

    /// <summary>Replaces the list with the user's server's; true when it did. The updates waiting are covered by the snapshot.</summary>
    private async Task<bool> ResyncAsync(bool known)
    {
        string reason;
        try
        {
            var response = await federation.SendAsync(new FederationRequest(HttpMethod.Get, FederationDestinations.ServerOf(UserId),
                $"/_matrix/federation/v1/user/devices/{Uri.EscapeDataString(UserId)}") { Timeout = ResyncTimeout, MaxResponseBytes = MaxSnapshotBytes },
                CancellationToken.None);
            if (response.IsSuccess && DeviceListChain.ParseSnapshot(response.Body, UserId) is { } snapshot)
            {
                await store.ReplaceAsync(UserId, snapshot.StreamId, snapshot.Devices, snapshot.CrossSigningJson, CancellationToken.None);
                _seen.Clear();
                _seen.Add(snapshot.StreamId);
                log.Resynced(UserId, snapshot.Devices.Count, snapshot.StreamId);
                return true;
            }
            reason = response.IsSuccess ? "not a device list of this user" : $"status {response.StatusCode}";
        }
        catch (Exception e) when (e is FederationRequestException or HttpRequestException or IOException or TimeoutException or TaskCanceledException)
        {
            reason = e.Message;
        }
        log.ResyncFailed(UserId, reason);
        if (known) await store.MarkStaleAsync(UserId, CancellationToken.None);
        // The list may well have changed: our users should ask the user's server.
        return true;
    }
}
