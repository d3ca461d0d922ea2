using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.EndToEnd;

/// <summary>
/// An <c>m.device_list_update</c> of another server's user as it came: the update's stream_id, the prev_ids it
/// follows, and the device (<c>device_id</c>, <c>keys</c>, <c>device_display_name</c>) unless it was deleted.
/// </summary>
[GenerateSerializer, Immutable, Alias("RemoteDeviceListUpdate")]
public sealed record RemoteDeviceListUpdate(
    [property: Id(0)] string DeviceId,
    [property: Id(1)] long StreamId,
    [property: Id(2)] IReadOnlyList<long> PrevIds,
    [property: Id(3)] bool Deleted,
    [property: Id(4)] JsonObject Device);

/// <summary>
/// This server's copy of one remote user's device list (key: their user ID), kept as Synapse's DeviceListUpdater
/// keeps it: updates that follow the last one applied are applied, any other makes it fetch the whole list
/// from the user's server. Placed on the <c>device_lists</c> writers.
/// </summary>
[Alias("IRemoteDeviceListGrain")]
public interface IRemoteDeviceListGrain : IGrainWithStringKey
{
    /// <summary>Takes updates from the user's server and returns; they are applied (or a resync made) in order, behind the call.</summary>
    Task UpdateAsync(IReadOnlyList<RemoteDeviceListUpdate> updates, CancellationToken cancellationToken = default);
}
