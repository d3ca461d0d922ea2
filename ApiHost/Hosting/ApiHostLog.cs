using Microsoft.Extensions.Logging;

namespace Homeserver.ApiHost.Hosting;

public sealed partial class ApiHostLog(ILogger<ApiHostLog> logger)
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    public partial void RequestFailed(Exception exception, string method, string path);
}
