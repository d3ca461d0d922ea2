using System.Net;

namespace Homeserver.Configuration;

/// <summary>
/// The limits on this server's requests to other homeservers, from Synapse's keys: which destinations
/// it may talk to at all (<c>federation_domain_whitelist</c>), which addresses it may connect to
/// (<c>ip_range_blacklist</c>, <c>ip_range_whitelist</c>, the deprecated <c>federation_ip_range_blacklist</c>),
/// whether their certificates are checked, and how long a request may take.
/// </summary>
public sealed record FederationClientOptions
{
    /// <summary>Addresses never connected to, unless <see cref="IpRangeWhitelist"/> lets them through.</summary>
    public IpRangeSet IpRangeBlacklist { get; init; } = FederationConfigReader.DefaultBlacklist;

    /// <summary>Exceptions to the blacklist; empty by default.</summary>
    public IpRangeSet IpRangeWhitelist { get; init; } = IpRangeSet.Empty;

    /// <summary><c>federation_domain_whitelist</c>: when set, the only server names requests may go to.</summary>
    public IReadOnlySet<string>? DomainWhitelist { get; init; }

    /// <summary><c>federation_verify_certificates</c>: false accepts any certificate, which only tests should do.</summary>
    public bool VerifyCertificates { get; init; } = true;

    /// <summary><c>federation.client_timeout</c>: how long one request may take, 60 s as in Synapse.</summary>
    public TimeSpan ClientTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// <c>trusted_key_servers</c>: notaries asked for a server's keys when the server itself cannot give them.
    /// Empty by default here (Synapse's default is matrix.org; a server on loopback-only networks cannot reach it).
    /// </summary>
    public IReadOnlyList<TrustedKeyServer> TrustedKeyServers { get; init; } = [];

    public bool IsDestinationAllowed(string serverName) => DomainWhitelist is null || DomainWhitelist.Contains(serverName);

    /// <summary>Synapse's rule: a blacklisted address is refused unless the whitelist names it.</summary>
    public bool IsAddressAllowed(IPAddress address) => !IpRangeBlacklist.Contains(address) || IpRangeWhitelist.Contains(address);
}

/// <summary>
/// A notary from <c>trusted_key_servers</c>: its server name and the public keys (key ID to unpadded
/// base64) its answers must be signed with; null only with Synapse's <c>accept_keys_insecurely</c>.
/// </summary>
public sealed record TrustedKeyServer(string ServerName, IReadOnlyDictionary<string, byte[]>? VerifyKeys);

/// <summary>A set of CIDR ranges, IPv4 and IPv6.</summary>
public sealed class IpRangeSet(IReadOnlyList<IPNetwork> ranges)
{
    public static IpRangeSet Empty { get; } = new([]);

    public IReadOnlyList<IPNetwork> Ranges => ranges;

    public bool Contains(IPAddress address)
    {
        // IPv6 scope IDs (fe80::1%eth0) are not part of the address a range describes.
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            address = new IPAddress(address.GetAddressBytes());
        }
        foreach (var range in ranges)
        {
            if (range.Contains(address)) return true;
        }
        return false;
    }
}
