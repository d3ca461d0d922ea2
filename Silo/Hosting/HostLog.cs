using Microsoft.Extensions.Logging;

namespace Homeserver.Silo.Hosting;

public sealed partial class HostLog(ILogger<HostLog> logger)
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information,
        Message = "Instance {Instance} ({Kind}) of {ServerName} is ready; signing key {KeyId}")]
    public partial void Started(string instance, string kind, string serverName, string keyId);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning,
        Message = "The replication listener on {Address}:{Port} is reachable from other hosts but worker_replication_secret is not set: anyone who can reach it can call grains")]
    public partial void UnprotectedReplicationListener(string address, int port);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    public partial void ConfigurationWarning(string warning);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Background task {Task} deleted {Rows} rows")]
    public partial void BackgroundTaskPruned(string task, long rows);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Background task {Task} failed; it runs again at the next interval")]
    public partial void BackgroundTaskFailed(Exception exception, string task);
}
