using Microsoft.Extensions.Logging;

namespace Homeserver.Grains.EndToEnd;

public sealed partial class RemoteDeviceListLog(ILogger<RemoteDeviceListLog> logger)
{
    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Resynced the device list of {UserId}: {Devices} devices at stream_id {StreamId}")]
    public partial void Resynced(string userId, int devices, long streamId);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Resyncing the device list of {UserId} failed ({Reason}); it is fetched again on its next update")]
    public partial void ResyncFailed(string userId, string reason);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "Applying device-list updates of {UserId} failed; they are dropped")]
    public partial void UpdateFailed(Exception exception, string userId);
}
