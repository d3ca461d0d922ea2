using Orleans;
using Orleans.Concurrency;

namespace Homeserver.Grains.Interfaces.Rooms;

/// <summary>
/// The event persister of one room (key: room ID). Placed on one of the <c>stream_writers.events</c>
/// instances by a stable hash of the room ID; it orders, signs and persists the room's events.
/// Like every grain method here, each takes the caller's cancellation (a client that went away): the
/// caller stops waiting at once, while a write already under way completes, so a retry with the same
/// transaction ID finds it.
/// </summary>
[Alias("IRoomGrain")]
public interface IRoomGrain : IGrainWithStringKey
{
    Task<RoomCreated> CreateAsync(CreateRoomCommand command, CancellationToken cancellationToken = default);

    Task<EventSent> SendEventAsync(SendEventCommand command, CancellationToken cancellationToken = default);

    [ReadOnly]
    Task<RoomWriterInfo> GetWriterInfoAsync(CancellationToken cancellationToken = default);
}
