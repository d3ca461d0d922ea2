using Microsoft.Extensions.Logging;

namespace Homeserver.Silo.Hosting;

public sealed partial class SiloLog(ILogger<SiloLog> logger)
{
    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Silo {Instance} signs as {ServerName} with key {KeyId}; writes {Streams}")]
    public partial void SiloStarted(string instance, string serverName, string keyId, string streams);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Background task {Task} deleted {Rows} rows")]
    public partial void BackgroundTaskPruned(string task, long rows);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Background task {Task} failed; it runs again at the next interval")]
    public partial void BackgroundTaskFailed(Exception exception, string task);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning,
        Message = "Silo {Instance} was declared dead; ended {Sessions} of its database sessions and marked {Rows} of its stream positions idle")]
    public partial void DeadWriterFenced(string instance, int sessions, int rows);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Error, Message = "Fencing dead silo {Instance} failed; trying again at the next membership change")]
    public partial void DeadWriterFenceFailed(Exception exception, string instance);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "No live silo writes {Role}: {Grain} {Key} cannot be placed")]
    public partial void NoLiveWriter(string role, string grain, string key);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "{Grain}.{Method} failed in PostgreSQL; the caller gets a retryable 503")]
    public partial void GrainDatabaseFailure(Exception exception, string grain, string method);
}
