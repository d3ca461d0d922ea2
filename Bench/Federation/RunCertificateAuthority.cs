using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Homeserver.Bench.Federation;

/// <summary>
/// A private root CA made for one run: it issues the certificate of the server's TLS federation listener
/// and of Bench's fake remote servers, and the server trusts it through <c>federation_custom_ca_list</c>,
/// so federation is real HTTPS with verified certificates and nothing is installed on the machine.
/// </summary>
public sealed class RunCertificateAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public RunCertificateAuthority(string name)
    {
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(2));
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>A server certificate with its private key for https://127.0.0.1.</summary>
    public X509Certificate2 IssueForLoopback()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var issued = request.Create(Certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        // Through PKCS#12, so the key outlives this method's ECDsa and Kestrel can use it.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Writes the CA (for <c>federation_custom_ca_list</c>) and a loopback certificate with its key (for a TLS listener) as PEM files.</summary>
    public async Task<(string CaFile, string CertificateFile, string KeyFile)> WritePemFilesAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        var (ca, certificate, key) = (Path.Combine(directory, "bench-ca.pem"), Path.Combine(directory, "federation-cert.pem"),
            Path.Combine(directory, "federation-key.pem"));
        using var issued = IssueForLoopback();
        await File.WriteAllTextAsync(ca, Certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(certificate, issued.ExportCertificatePem() + "\n" + Certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(key, issued.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (ca, certificate, key);
    }

    /// <summary>A handler whose HTTPS connections trust this CA alone (the server's federation listener).</summary>
    public SocketsHttpHandler TrustingHandler() => new()
    {
        MaxConnectionsPerServer = 1024,
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        SslOptions =
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(Certificate);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            },
        },
    };

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}
