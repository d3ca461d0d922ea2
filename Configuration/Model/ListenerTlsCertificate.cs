using System.Security.Cryptography.X509Certificates;

namespace Homeserver.Configuration;

/// <summary>
/// The certificate a listener with <c>tls: true</c> presents (<c>tls_certificate_path</c> with the key of
/// <c>tls_private_key_path</c>), and the intermediates that followed it in the PEM file, sent along so
/// other servers can build the chain to their roots.
/// </summary>
public sealed record ListenerTlsCertificate(X509Certificate2 Certificate, X509Certificate2Collection Chain);
