using Microsoft.Extensions.Logging;

namespace Homeserver.Federation.Transport;

/// <summary>What the federation transport tells an operator: refusals by the configured limits, unreachable targets, discovery answers.</summary>
public sealed partial class FederationTransportLog(ILogger<FederationTransportLog> logger)
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Federation to {Destination} refused: it is not in federation_domain_whitelist")]
    public partial void DestinationNotWhitelisted(string destination);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Not connecting to {Host} at {Address}: the address is in ip_range_blacklist")]
    public partial void AddressRefused(string host, string address);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Information, Message = "Federation to {Destination}: {Host}:{Port} could not be connected ({Reason}); trying the next target")]
    public partial void TargetUnreachable(string destination, string host, int port, string reason);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "Federation to {Destination} failed: {Reason}")]
    public partial void RequestFailed(string destination, string reason);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Information, Message = "/.well-known/matrix/server of {Host}: {Outcome}, kept for {Lifetime}")]
    public partial void WellKnownFetched(string host, string outcome, TimeSpan lifetime);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information, Message = "/.well-known/matrix/server of {Host} failed for now ({Reason}); keeping its last answer")]
    public partial void WellKnownKeptStale(string host, string reason);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "SRV lookup of {Name} failed ({Reason}); keeping its last answer")]
    public partial void SrvKeptStale(string name, string reason);
}
