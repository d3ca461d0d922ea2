using Homeserver.Grains.Interfaces.Federation;
using Orleans;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Tells a destination's sender grain that its outbox has rows. The rows are in PostgreSQL already, so a wake
/// that fails loses nothing: it is logged, and the feeder's sweep of outstanding destinations finds them.
/// </summary>
public sealed class OutboxWakeUp(IGrainFactory grains, FederationSenderLog log)
{
    public async Task WakeAsync(string destination)
    {
        try
        {
            await grains.GetGrain<IFederationSenderGrain>(destination).WakeAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.WakeFailed(e, destination);
        }
    }
}
