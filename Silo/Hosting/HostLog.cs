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
}
