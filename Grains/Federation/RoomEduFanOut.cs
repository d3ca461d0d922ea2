using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Storage.Rooms;
using Orleans;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Hands an EDU about a room (typing, a read receipt) that one of our users caused to the sender grain of
/// every other server with a member joined to the room. EDUs are best effort, as the spec has them: a
/// failure is logged and the EDU dropped, never the client's request failed.
/// </summary>
public sealed class RoomEduFanOut(RoomReader rooms, IGrainFactory grains, ProcessSettings settings, FederationSenderLog log)
{
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
