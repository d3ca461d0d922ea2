using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Homeserver.Configuration;

/// <summary>Reads the PEM files of a CA list key at start-up, so a wrong path fails there and not at the first request.</summary>
public static class CertificateAuthorityFiles
{
    public static X509Certificate2Collection Load(IReadOnlyList<string> paths, string sourceName, string key)
    {
        // As in Synapse: an empty list would trust nothing at all, which is never what was meant.
        if (paths.Count == 0) throw new ConfigurationException($"{sourceName}: `{key}` is an empty list; name at least one PEM file.");
        var certificates = new X509Certificate2Collection();
        foreach (var path in paths)
        {
            string pem;
            try
            {
                pem = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new ConfigurationException($"{sourceName}: `{key}` names {path}, which cannot be read: {e.Message}");
            }
            var inFile = new X509Certificate2Collection();
            try
            {
                inFile.ImportFromPem(pem);
            }
            catch (CryptographicException e)
            {
                throw new ConfigurationException($"{sourceName}: `{key}` names {path}, which holds an invalid PEM certificate: {e.Message}");
            }
            if (inFile.Count == 0) throw new ConfigurationException($"{sourceName}: `{key}` names {path}, which holds no PEM certificate.");
            certificates.AddRange(inFile);
        }
        return certificates;
    }
}
