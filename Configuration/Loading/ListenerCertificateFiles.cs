using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Homeserver.Configuration;

/// <summary>
/// Reads Synapse's <c>tls_certificate_path</c> (PEM chain, leaf first) and <c>tls_private_key_path</c> (PEM
/// key) at start-up, so a wrong path or a key of another certificate stops start-up there, naming the key,
/// and never fails the first TLS handshake instead.
/// </summary>
public static class ListenerCertificateFiles
{
    public const string CertificateKey = "tls_certificate_path";
    public const string PrivateKeyKey = "tls_private_key_path";

    /// <summary>The listener certificate, or null when neither key is given.</summary>
    internal static ListenerTlsCertificate? Load(YamlSection root) => Load(root.String(CertificateKey), root.String(PrivateKeyKey), root.File);

    public static ListenerTlsCertificate? Load(string? certificatePath, string? keyPath, string sourceName)
    {
        if (certificatePath is null && keyPath is null) return null;
        if (certificatePath is null) throw new ConfigurationException($"{sourceName}: `{CertificateKey}` is missing; `{PrivateKeyKey}` needs its certificate.");
        if (keyPath is null) throw new ConfigurationException($"{sourceName}: `{PrivateKeyKey}` is missing; `{CertificateKey}` needs its private key.");

        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPem(Read(sourceName, CertificateKey, certificatePath));
        }
        catch (CryptographicException e)
        {
            throw new ConfigurationException($"{sourceName}: `{CertificateKey}` names {certificatePath}, which holds an invalid PEM certificate: {e.Message}");
        }
        if (chain.Count == 0) throw new ConfigurationException($"{sourceName}: `{CertificateKey}` names {certificatePath}, which holds no PEM certificate.");

        var keyPem = Read(sourceName, PrivateKeyKey, keyPath);
        X509Certificate2 leaf;
        try
        {
            if (!keyPem.Contains("PRIVATE KEY-----", StringComparison.Ordinal)) throw new CryptographicException("the file holds no PEM private key");
            // The key must be the leaf's: CreateFromPem refuses one whose public half differs.
            leaf = X509Certificate2.CreateFromPem(chain[0].ExportCertificatePem(), keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or InvalidOperationException)
        {
            throw new ConfigurationException(
                $"{sourceName}: `{PrivateKeyKey}` names {keyPath}, which is not the private key of the certificate in {certificatePath} ({e.Message.TrimEnd('.')}).");
        }
        chain.RemoveAt(0);
        return new ListenerTlsCertificate(leaf, chain);
    }

    private static string Read(string sourceName, string key, string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigurationException($"{sourceName}: `{key}` names {path}, which cannot be read: {e.Message}");
        }
    }
}
