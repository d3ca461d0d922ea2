using System.Net;

namespace Homeserver.Federation.Transport;

/// <summary>
/// Settings of the federation transport that homeserver.yaml has no key for (Synapse has none either):
/// defaults that suit production, and the seams tests need to point DNS and the well-known fetch at
/// loopback servers of their own.
/// </summary>
public sealed class FederationTransportOptions
{
    /// <summary>DNS servers to ask (SRV, A and AAAA); null uses the operating system's resolver configuration and, for addresses, its resolver itself (hosts file included).</summary>
    public IReadOnlyList<IPEndPoint>? NameServers { get; set; }

    /// <summary>The port of <c>https://{host}/.well-known/matrix/server</c>: 443 but in tests.</summary>
    public int WellKnownPort { get; set; } = 443;

    /// <summary>Response bodies longer than this fail the request (a request may ask for another limit).</summary>
    public long MaxResponseBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>How long one connection attempt (TCP and TLS) to one address may take before the next is tried.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the whole <c>/.well-known/matrix/server</c> fetch, redirects included, may take.</summary>
    public TimeSpan WellKnownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a DNS query may take, per attempt.</summary>
    public TimeSpan DnsTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Server names whose discovery results (well-known, SRV, targets) are kept, each cache on its own.</summary>
    public int CacheCapacity { get; set; } = 10_000;

    internal IEnumerable<string> Problems()
    {
        if (WellKnownPort is < 1 or > 65535) yield return $"{nameof(WellKnownPort)} must be a port from 1 to 65535.";
        if (MaxResponseBytes < 1) yield return $"{nameof(MaxResponseBytes)} must be positive.";
        if (ConnectTimeout <= TimeSpan.Zero || WellKnownTimeout <= TimeSpan.Zero || DnsTimeout <= TimeSpan.Zero) yield return "timeouts must be positive.";
        if (CacheCapacity < 1) yield return $"{nameof(CacheCapacity)} must be positive.";
        if (NameServers is { Count: 0 }) yield return $"{nameof(NameServers)} must be null (the system's) or name at least one server.";
    }
}
