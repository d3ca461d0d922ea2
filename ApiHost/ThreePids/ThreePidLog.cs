using Microsoft.Extensions.Logging;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>Log messages of email validation and identity-server calls (event IDs 5600-5699).</summary>
public sealed partial class ThreePidLog(ILogger<ThreePidLog> logger)
{
    [LoggerMessage(EventId = 5601, Level = LogLevel.Error, Message = "Sending the {Purpose} validation mail through {SmtpHost}:{SmtpPort} failed")]
    public partial void MailFailed(Exception exception, string purpose, string smtpHost, int smtpPort);

    [LoggerMessage(EventId = 5602, Level = LogLevel.Warning, Message = "Identity server {IdServer} failed on {Path}: {Reason}")]
    public partial void IdentityServerFailed(string idServer, string path, string reason);

    [LoggerMessage(EventId = 5603, Level = LogLevel.Warning, Message = "Looking up a 3PID at {IdServer} failed, so the invite is stored there instead: {Reason}")]
    public partial void LookupFailed(string idServer, string reason);

    [LoggerMessage(EventId = 5604, Level = LogLevel.Warning, Message = "The identity server {IdServer} does not support unbinding (HTTP {Status})")]
    public partial void UnbindUnsupported(string idServer, int status);
}
