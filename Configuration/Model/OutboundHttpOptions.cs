using System.Security.Cryptography.X509Certificates;

namespace Homeserver.Configuration;

/// <summary>
/// Whom the server's own HTTPS requests (push gateways, identity servers, and federation when it comes)
/// trust. Synapse's <c>federation_custom_ca_list</c> replaces the operating system's roots: with it set,
/// those certificate authorities and no others. Synapse applies the key to federation traffic only, and
/// verifies push gateways and identity servers against the system store; here one trust serves every
/// outbound client, so a private deployment with its own CA needs no second setting.
/// </summary>
public sealed record OutboundHttpOptions
{
    /// <summary>The roots every outbound HTTPS connection must chain to; null trusts the operating system's store.</summary>
    public X509Certificate2Collection? CustomCertificateAuthorities { get; init; }
}
