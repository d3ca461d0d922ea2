using Orleans;
using Orleans.Concurrency;

namespace Homeserver.Grains.Interfaces.Rooms;

/// <summary>
/// The event persister of one room (key: room ID). Placed on one of the <c>stream_writers.events</c>
/// instances by a stable hash of the room ID; it orders, signs and persists the room's events.
/// </summary>
[Alias("IRoomGrain")]
public interface IRoomGrain : IGrainWithStringKey
{
    Task<RoomCreated> CreateAsync(CreateRoomCommand command);

    Task<EventSent> SendEventAsync(SendEventCommand command);

    [ReadOnly]
    Task<RoomWriterInfo> GetWriterInfoAsync();
}
