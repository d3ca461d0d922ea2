using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Storage.Rooms;
using Orleans;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Hands an EDU about a room (typing, a read receipt) or about a user (device lists) that one of our users caused to the sender grain of
/// every other server with a member joined to the room. EDUs are best effort, as the spec has them: a
/// failure is logged and the EDU dropped, never the client's request failed.
/// </summary>
public sealed class RoomEduFanOut(RoomReader rooms, IGrainFactory grains, ProcessSettings settings, FederationSenderLog log)
{
    /// <summary>An EDU about one of our users (their devices, their keys) to every other server sharing a room with them.</summary>
    public async Task SendToUserServersAsync(string userId, Edu edu, CancellationToken cancellationToken)
    {
        try
        {
            var destinations = FederationDestinations.For(userId, settings.ServerName, await rooms.GetServersSharingRoomsWithAsync(userId, cancellationToken));
            await Task.WhenAll(destinations.Select(d => grains.GetGrain<IFederationSenderGrain>(d).EnqueueEduAsync(edu, cancellationToken)));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.EduFanOutFailed(e, edu.EduType, userId);
        }
    }

    public async Task SendAsync(string roomId, string userId, Edu edu, CancellationToken cancellationToken)
    {
        try
        {
            var destinations = FederationDestinations.For(userId, settings.ServerName, await rooms.GetJoinedServersAsync(roomId, cancellationToken));
            await Task.WhenAll(destinations.Select(d => grains.GetGrain<IFederationSenderGrain>(d).EnqueueEduAsync(edu, cancellationToken)));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.EduFanOutFailed(e, edu.EduType, roomId);
        }
    }
}
