using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Homeserver.Configuration;

/// <summary>
/// The limits on the server's own HTTP requests to push gateways and identity servers (federation has
/// its own, <see cref="FederationClientOptions"/>): which roots their certificates must chain to, and
/// which addresses may be connected to at all.
/// Synapse's <c>federation_custom_ca_list</c> replaces the operating system's roots: with it set,
/// those certificate authorities and no others. Synapse applies the key to federation traffic only, and
/// verifies push gateways and identity servers against the system store; here one trust serves every
/// outbound client, so a private deployment with its own CA needs no second setting.
/// </summary>
public sealed record OutboundHttpOptions
{
    /// <summary>The roots every outbound HTTPS connection must chain to; null trusts the operating system's store.</summary>
    public X509Certificate2Collection? CustomCertificateAuthorities { get; init; }

    /// <summary>
    /// <c>ip_range_blacklist</c> (Synapse's default list): addresses a push gateway or identity server URL may
    /// not reach, checked after DNS on every connection, redirects included. A user names those URLs, so
    /// without it they could make the server call its own network.
    /// </summary>
    public IpRangeSet IpRangeBlacklist { get; init; } = FederationConfigReader.DefaultBlacklist;

    /// <summary><c>ip_range_whitelist</c>: exceptions to the blacklist; empty by default.</summary>
    public IpRangeSet IpRangeWhitelist { get; init; } = IpRangeSet.Empty;

    /// <summary>Synapse's rule: a blacklisted address is refused unless the whitelist names it.</summary>
    public bool IsAddressAllowed(IPAddress address) => !IpRangeBlacklist.Contains(address) || IpRangeWhitelist.Contains(address);
}
