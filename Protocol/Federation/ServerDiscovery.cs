using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// One place to send server-server requests for a server name: connect to <see cref="ConnectHost"/>
/// (an IP literal, or a host name to resolve with AAAA/A records, never SRV again) on <see cref="Port"/>,
/// send <see cref="HostHeader"/>, and accept only a certificate valid for <see cref="CertificateName"/>.
/// </summary>
public sealed record FederationTarget(string ConnectHost, int Port, string HostHeader, string CertificateName);

/// <summary>A DNS SRV answer: the target host and port, with RFC 2782's priority and weight.</summary>
public sealed record SrvRecord(string Target, int Port, int Priority, int Weight);

/// <summary>The lookups server discovery needs, done by whoever does I/O (and caches, as the spec asks).</summary>
public interface IServerDiscoveryLookups
{
    /// <summary>
    /// The body of a 200 answer to <c>https://{hostname}/.well-known/matrix/server</c> (redirects followed
    /// without loops), or null for any error: the request failing, another status, no JSON.
    /// </summary>
    Task<JsonNode?> WellKnownAsync(string hostname, CancellationToken cancellationToken);

    /// <summary>The SRV records of <paramref name="serviceName"/> (<c>_matrix-fed._tcp.example.org</c>), empty when there are none.</summary>
    Task<IReadOnlyList<SrvRecord>> SrvAsync(string serviceName, CancellationToken cancellationToken);
}

/// <summary>
/// Server name resolution, step by step as server-server-api "Resolving server names" (v1.8+) gives
/// it: IP literals and explicit ports first, then <c>/.well-known/matrix/server</c> delegation, then
/// <c>_matrix-fed._tcp</c> and the deprecated <c>_matrix._tcp</c> SRV records, then port 8448.
/// </summary>
public static class ServerDiscovery
{
    public const int DefaultPort = 8448;

    /// <summary>
    /// The targets to try, in order (several when SRV gives several). Empty when SRV says the service is
    /// decidedly not available (a single record whose target is ".", RFC 2782).
    /// </summary>
    public static async Task<IReadOnlyList<FederationTarget>> ResolveAsync(ServerName serverName, IServerDiscoveryLookups lookups,
        CancellationToken cancellationToken)
    {
        // Steps 1 and 2: an IP literal, or a host name with an explicit port, is used as it is.
        if (IsIpLiteral(serverName.Host) || serverName.Port is not null)
        {
            return [new FederationTarget(serverName.Host, serverName.Port ?? DefaultPort, serverName.Value, serverName.Host)];
        }

        // Step 3: delegation through /.well-known/matrix/server.
        if (ParseWellKnown(await lookups.WellKnownAsync(serverName.Host, cancellationToken)) is { } delegated)
        {
            if (IsIpLiteral(delegated.Host) || delegated.Port is not null)
            {
                // 3.1 and 3.2: the Host header names the delegated server, with its port if one was given.
                return [new FederationTarget(delegated.Host, delegated.Port ?? DefaultPort, delegated.Value, delegated.Host)];
            }
            // 3.3 to 3.5: SRV records of the delegated host name, else its port 8448.
            return await ThroughSrvAsync(delegated.Host, lookups, cancellationToken);
        }

        // Steps 4 to 6: SRV records of the host name itself, else its port 8448.
        return await ThroughSrvAsync(serverName.Host, lookups, cancellationToken);
    }

    /// <summary>The delegated server name of a <c>/.well-known/matrix/server</c> body, or null when the body is not a valid one.</summary>
    public static ServerName? ParseWellKnown(JsonNode? body) =>
        body is JsonObject o && o["m.server"] is JsonValue value && value.TryGetValue<string>(out var text) && ServerName.TryParse(text, out var name)
            ? name
            : null;

    private static async Task<IReadOnlyList<FederationTarget>> ThroughSrvAsync(string hostname, IServerDiscoveryLookups lookups,
        CancellationToken cancellationToken)
    {
        foreach (var service in new[] { "_matrix-fed._tcp.", "_matrix._tcp." })
        {
            var records = await lookups.SrvAsync(service + hostname, cancellationToken);
            if (records.Count == 0) continue;
            if (records is [{ Target: "." }]) return [];
            // The certificate and Host header stay the host name's: DNS is not trusted to delegate, TLS proves it.
            return records.Where(r => r.Target != "." && r.Port is > 0 and <= 65535)
                .OrderBy(r => r.Priority).ThenByDescending(r => r.Weight)
                .Select(r => new FederationTarget(r.Target.TrimEnd('.'), r.Port, hostname, hostname))
                .ToList();
        }
        return [new FederationTarget(hostname, DefaultPort, hostname, hostname)];
    }

    /// <summary>A bracketed IPv6 literal or a dotted-quad IPv4 address (the grammar's IPv4address, not any number IPAddress would take).</summary>
    private static bool IsIpLiteral(string host) =>
        host.StartsWith('[') || (host.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit)));
}
