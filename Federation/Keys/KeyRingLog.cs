using Microsoft.Extensions.Logging;

namespace Homeserver.Federation.Keys;

/// <summary>What fetching other servers' keys tells an operator: answers refused and why, servers that could not be asked.</summary>
public sealed partial class KeyRingLog(ILogger<KeyRingLog> logger)
{
    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "Keys of {ServerName} could not be fetched from {From}: {Reason}")]
    public partial void FetchFailed(string serverName, string from, string reason);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "Keys of {ServerName} from {From} refused: {Reason}")]
    public partial void AnswerRefused(string serverName, string from, string reason);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Information, Message = "No key {KeyId} of {ServerName} valid at {ValidAtTs}; not asking again for {BackOff}")]
    public partial void KeyNotFound(string serverName, string keyId, long validAtTs, TimeSpan backOff);
}
