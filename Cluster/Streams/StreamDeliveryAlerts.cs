namespace Homeserver.Cluster.Streams;

/// <summary>
/// Raised when stream deliveries to this process may have been lost: the client lost its gateways,
/// or a silo (with the stream queues it held in memory) died. Every subscription then catches up
/// from PostgreSQL at once instead of at its next periodic look.
/// </summary>
public sealed class StreamDeliveryAlerts(StreamsLog log)
{
    public event Action? MayHaveLostRows;

    public void Raise(string reason)
    {
        log.MayHaveLostRows(reason);
        MayHaveLostRows?.Invoke();
    }
}
