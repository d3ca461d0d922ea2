using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Federation;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Sends changes of one of our users' devices to every other server sharing a room with them as
/// <c>m.device_list_update</c> EDUs (server-server-api "Device Management"), through the durable outbox: each
/// update gets a stream_id larger than the user's last, and per destination a prev_id naming the update that
/// destination was sent before it, so a receiver that missed one knows to fetch the whole list.
/// Best effort toward the client: a failure is logged, never the client's request failed.
/// </summary>
public sealed class DeviceListFederation(RoomReader rooms, FederationOutboxStore outbox, OutboxWakeUp senders, ProcessSettings settings,
    TimeProvider clock, FederationSenderLog log)
{
    /// <summary>
    /// Queues <paramref name="updates"/> (each the content without stream_id and prev_id), made at device_lists
    /// position <paramref name="position"/>, in order; returns their stream_ids.
    /// </summary>
    public async Task<IReadOnlyList<long>> AnnounceAsync(string userId, long position, IReadOnlyList<JsonObject> updates, CancellationToken cancellationToken)
    {
        try
        {
            var destinations = FederationDestinations.For(userId, settings.ServerName, await rooms.GetServersSharingRoomsWithAsync(userId, cancellationToken));
            if (destinations.Count == 0 || updates.Count == 0) return [];
            var ids = await outbox.QueueDeviceListUpdatesAsync(userId, destinations, updates.Select(u => u.ToJsonString()).ToList(), position,
                clock.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
            foreach (var destination in destinations) await senders.WakeAsync(destination);
            return ids;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.EduFanOutFailed(e, "m.device_list_update", userId);
            return [];
        }
    }
}
