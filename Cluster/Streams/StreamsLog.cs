using Microsoft.Extensions.Logging;

namespace Homeserver.Cluster.Streams;

public sealed partial class StreamsLog(ILogger<StreamsLog> logger)
{
    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning, Message = "Stream {Stream}: catch-up from position {Position} failed")]
    public partial void CatchUpFailed(Exception exception, string stream, long position);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Error, Message = "Stream {Stream}: a subscriber failed on position {Position}")]
    public partial void SubscriberFailed(Exception exception, string stream, long position);

    [LoggerMessage(EventId = 1022, Level = LogLevel.Information, Message = "Stream deliveries may have been lost ({Reason}); subscriptions catch up from the database")]
    public partial void MayHaveLostRows(string reason);
}
