using Homeserver.Cluster.Streams;
using Homeserver.Silo.Hosting;
using Homeserver.Storage.Streams;
using Orleans;
using Orleans.Runtime;

namespace Homeserver.Silo.Membership;

/// <summary>
/// Listens to the cluster's membership: when a silo is declared dead, fences it in PostgreSQL
/// (<see cref="DeadWriterFence"/>) so readers stop waiting for its stream positions and nothing it had
/// in flight can commit later, and tells this process's stream subscriptions to catch up (the stream
/// queues it held in memory are gone). Every survivor does it; the fence is idempotent.
/// </summary>
public sealed class DeadSiloFencing(ISiloStatusOracle membership, DeadWriterFence fence, StreamDeliveryAlerts alerts, SiloLog log)
    : ILifecycleParticipant<ISiloLifecycle>, ISiloStatusListener
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DeadSiloFencing), ServiceLifecycleStage.Active, _ =>
        {
            membership.SubscribeToSiloStatusEvents(this);
            return Task.CompletedTask;
        });

    public void SiloStatusChangeNotification(SiloAddress updatedSilo, SiloStatus status)
    {
        if (status != SiloStatus.Dead || updatedSilo.Equals(membership.SiloAddress)) return;
        if (!membership.TryGetSiloName(updatedSilo, out var name)) return;
        _ = FenceAsync(name, updatedSilo);
    }

    private async Task FenceAsync(string instance, SiloAddress dead)
    {
        try
        {
            var successorRunning = membership.GetApproximateSiloStatuses(onlyActive: true).Keys
                .Any(a => a.Generation > dead.Generation && membership.TryGetSiloName(a, out var n) && n == instance);
            var (sessions, rows) = await fence.FenceAsync(instance, dead.Generation, successorRunning);
            log.DeadWriterFenced(instance, sessions, rows);
        }
        catch (Exception e)
        {
            log.DeadWriterFenceFailed(e, instance);
        }
        alerts.Raise($"silo {instance} died");
    }
}
