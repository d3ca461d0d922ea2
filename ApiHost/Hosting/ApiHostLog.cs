using Microsoft.Extensions.Logging;

namespace Homeserver.ApiHost.Hosting;

public sealed partial class ApiHostLog(ILogger<ApiHostLog> logger)
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    public partial void RequestFailed(Exception exception, string method, string path);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Subscribing to the {Topic} streams for /sync failed; syncs answer at their timeout until it works")]
    public partial void SyncSubscribeFailed(Exception exception, string topic);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Reading stream positions after deliveries may have been lost failed; waiting syncs are woken anyway")]
    public partial void SyncCatchUpFailed(Exception exception);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "Unfollowing idle /sync users failed; trying again in a minute")]
    public partial void SyncSweepFailed(Exception exception);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Telling the federation sender of {Destination} that it contacted us failed; its backoff ends by itself")]
    public partial void DestinationResetFailed(Exception exception, string destination);
}
