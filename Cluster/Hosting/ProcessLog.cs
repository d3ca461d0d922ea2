using Microsoft.Extensions.Logging;

namespace Homeserver.Cluster.Hosting;

public sealed partial class ProcessLog(ILogger<ProcessLog> logger)
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information,
        Message = "Instance {Instance} ({Kind}) of {ServerName} is ready")]
    public partial void Started(string instance, string kind, string serverName);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    public partial void ConfigurationWarning(string warning);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Cannot reach the cluster yet ({Reason}); trying again in {Seconds} s")]
    public partial void ClusterUnreachable(string reason, double seconds);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning,
        Message = "Running a split deployment WITHOUT TLS between processes (orleans.allow_insecure_loopback): anyone who can reach a silo or gateway port can call any grain")]
    public partial void InsecureCluster();
}
