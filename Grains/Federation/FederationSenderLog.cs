using Microsoft.Extensions.Logging;

namespace Homeserver.Grains.Federation;

public sealed partial class FederationSenderLog(ILogger<FederationSenderLog> logger)
{
    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "TX [{Destination}] {TxnId} failed ({Reason}); backing off {IntervalMs} ms")]
    public partial void TransactionFailed(string destination, string txnId, string reason, long intervalMs);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "TX [{Destination}] {TxnId} refused with {StatusCode}; its {Pdus} PDUs and {Edus} EDUs are not retried")]
    public partial void TransactionRefused(string destination, string txnId, int statusCode, int pdus, int edus);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "TX [{Destination}] {TxnId}: event {EventId} was not accepted: {Error}")]
    public partial void PduRejected(string destination, string txnId, string eventId, string error);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Information, Message = "Catching up {Destination} with the latest event of {Rooms} rooms")]
    public partial void CatchingUp(string destination, int rooms);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Warning, Message = "Sending to {Destination} failed; trying again when more arrives")]
    public partial void SendLoopFailed(Exception exception, string destination);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Information, Message = "Dropped {Count} EDUs queued for {Destination}")]
    public partial void EdusDropped(string destination, int count);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Warning, Message = "Queueing new events for other servers failed; trying again on the next tick")]
    public partial void FeedingFailed(Exception exception);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Information, Message = "{Destination} is reachable again after failing since {FailureTs}")]
    public partial void DestinationRecovered(string destination, long failureTs);

    [LoggerMessage(EventId = 3109, Level = LogLevel.Warning, Message = "Handing a {EduType} EDU of {RoomId} to the other servers failed; it is dropped")]
    public partial void EduFanOutFailed(Exception exception, string eduType, string roomId);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Information, Message = "Waking the sender for {Destination} failed; its outbox waits for the next sweep")]
    public partial void WakeFailed(Exception exception, string destination);

    [LoggerMessage(EventId = 3111, Level = LogLevel.Warning, Message = "TX [{Destination}] {TxnId} was refused; its {Count} stored EDUs are dropped")]
    public partial void OutboxEdusRefused(string destination, string txnId, int count);
}
