using Microsoft.Extensions.Logging;

namespace Orleans.Runtime.Hosting;

public sealed partial class RuntimeLog(ILogger<RuntimeLog> logger)
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Activated {Grain}/{Key}")]
    public partial void GrainActivated(string grain, string key);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Deactivated {Grain}/{Key}: {Reason}")]
    public partial void GrainDeactivated(string grain, string key, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "OnDeactivateAsync of {Grain}/{Key} failed")]
    public partial void GrainDeactivationFailed(Exception exception, string grain, string key);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "Grain timer of {Grain}/{Key} failed")]
    public partial void GrainTimerFailed(Exception exception, string grain, string key);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Shutdown gave up on activations still busy after {Seconds} s")]
    public partial void ShutdownDeactivationTimedOut(double seconds);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning,
        Message = "Refused a grain call from {Remote}: wrong or missing worker_replication_secret")]
    public partial void ReplicationCallUnauthorized(string remote);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning,
        Message = "Grain call {Method} for {Key} reached {Instance}, which does not own it; placement says {Owner}")]
    public partial void MisdirectedCall(string method, string key, string instance, string owner);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning, Message = "Stream {Stream}: catch-up from position {Position} failed")]
    public partial void StreamCatchUpFailed(Exception exception, string stream, long position);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Error, Message = "Stream {Stream}: a subscriber failed on position {Position}")]
    public partial void StreamSubscriberFailed(Exception exception, string stream, long position);
}
