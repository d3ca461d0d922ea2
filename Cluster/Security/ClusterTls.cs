using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Homeserver.Configuration.Processes;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace Homeserver.Cluster.Security;

/// <summary>
/// Mutual TLS on every Orleans connection (silo to silo, API host to gateway) with one cluster
/// certificate: each side presents it and accepts only a peer presenting the very same certificate
/// (same public key), so holding the certificate file is what makes a process part of the cluster.
/// Orleans' messaging has no other authentication; without this, anyone who reaches a silo or
/// gateway port can call any grain.
/// </summary>
public static class ClusterTls
{
    public static void Configure(IClientBuilder client, ProcessSettings settings)
    {
        if (Load(settings) is not { } certificate) return;
        client.UseTls(certificate, options => Apply(options, certificate));
    }

    public static void Configure(ISiloBuilder silo, ProcessSettings settings)
    {
        if (Load(settings) is not { } certificate) return;
        silo.UseTls(certificate, options => Apply(options, certificate));
    }

    /// <summary>True when a split deployment runs without TLS (allowed only on loopback, and logged loudly).</summary>
    public static bool IsInsecure(ProcessSettings settings) => settings.Orleans.TlsCertificatePath is null;

    private static X509Certificate2? Load(ProcessSettings settings)
    {
        if (settings.Orleans.TlsCertificatePath is not { } path) return null;
        // Ephemeral keys: nothing is written to the user's key store, which a container may not have.
        return X509CertificateLoader.LoadPkcs12FromFile(path, settings.Orleans.TlsCertificatePassword, X509KeyStorageFlags.EphemeralKeySet);
    }

    private static void Apply(TlsOptions options, X509Certificate2 cluster)
    {
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.HandshakeTimeout = TimeSpan.FromSeconds(5);
        options.RemoteCertificateValidation = (certificate, _, errors) => IsClusterCertificate(certificate, cluster, errors);
    }

    /// <summary>
    /// The self-signed cluster certificate fails ordinary chain building (no trusted root), and with a
    /// validation callback Orleans does no checks of its own, so this is the whole check: the peer's
    /// certificate must carry the cluster certificate's public key (a re-issued certificate with the same
    /// key keeps working) and be within its dates. A peer presenting none never gets here: Orleans refuses
    /// it first and logs the failed handshake.
    /// </summary>
    public static bool IsClusterCertificate(X509Certificate2 presented, X509Certificate2 cluster, SslPolicyErrors errors) =>
        presented.GetPublicKey().AsSpan().SequenceEqual(cluster.GetPublicKey()) &&
        presented.NotBefore <= DateTime.Now && DateTime.Now <= presented.NotAfter;
}
