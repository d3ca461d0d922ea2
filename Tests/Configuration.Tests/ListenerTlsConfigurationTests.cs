using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;

namespace Homeserver.Tests.Configuration;

/// <summary>
/// <c>listeners[].tls</c> with Synapse's <c>tls_certificate_path</c> and <c>tls_private_key_path</c>: loaded and
/// matched while the configuration loads, each fault one sentence naming the key.
/// </summary>
public sealed class ListenerTlsConfigurationTests : IDisposable
{
    private const string Minimal = """
        server_name: example.org
        listeners:
          - port: 8008
            resources: [{names: [client]}]
          - port: 8448
            tls: true
            resources: [{names: [federation]}]
        database:
          name: psycopg2
          args: {user: synapse, dbname: synapse}

        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("listener-tls-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static (X509Certificate2 Certificate, string KeyPem) NewCertificate(string name, X509Certificate2? issuer = null, ECDsa? issuerKey = null)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        var certificate = issuer is null
            ? request.CreateSelfSigned(now, now.AddDays(1))
            : request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey!), now, now.AddDays(1), [1, 2, 3]);
        return (certificate, key.ExportPkcs8PrivateKeyPem());
    }

    private static HomeserverOptions Load(string extra) => HomeserverConfigLoader.LoadFromYaml(Minimal + extra, "homeserver.yaml");

    private static string ErrorOf(string extra)
    {
        var error = FluentActions.Invoking(() => Load(extra)).Should().Throw<ConfigurationException>().Which.Message;
        error.Should().StartWith("homeserver.yaml");
        error.TrimEnd('.', ')').Should().NotContain("\n");
        return error;
    }

    [Fact]
    public void A_tls_listener_with_a_matching_certificate_and_key_loads_and_presents_the_chain()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        var (leaf, keyPem) = NewCertificate("matrix.example.org", ca, caKey);
        var certificate = Write("fullchain.pem", leaf.ExportCertificatePem() + "\n" + ca.ExportCertificatePem());
        var key = Write("privkey.pem", keyPem);

        var options = Load($"tls_certificate_path: '{certificate}'\ntls_private_key_path: '{key}'\n");

        options.Listeners.Select(l => l.Tls).Should().Equal(false, true);
        options.ListenerCertificate.Should().NotBeNull();
        options.ListenerCertificate!.Certificate.Subject.Should().Be("CN=matrix.example.org");
        options.ListenerCertificate.Certificate.HasPrivateKey.Should().BeTrue();
        options.ListenerCertificate.Chain.Select(c => c.Subject).Should().Equal("CN=Test CA");

        var settings = ProcessSettingsLoader.FromOptions(options, null, ProcessKind.Monolith);
        settings.Listeners[0].Tls.Should().BeNull("a listener without tls stays plain HTTP");
        settings.Listeners[1].Tls.Should().BeSameAs(options.ListenerCertificate);
        settings.Listeners[1].Resources.Should().BeEquivalentTo(["federation"]);
    }

    [Fact]
    public void An_expired_certificate_loads_with_a_warning()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var expired = new CertificateRequest("CN=matrix.example.org", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1));
        var certificate = Write("expired.pem", expired.ExportCertificatePem());
        var keyPath = Write("expired-key.pem", key.ExportPkcs8PrivateKeyPem());

        var options = Load($"tls_certificate_path: '{certificate}'\ntls_private_key_path: '{keyPath}'\n");

        options.ListenerCertificate.Should().NotBeNull();
        options.Warnings.Should().ContainSingle(w => w.Contains("`tls_certificate_path`", StringComparison.Ordinal) && w.Contains("refuse", StringComparison.Ordinal));
    }

    [Fact]
    public void A_tls_listener_without_the_certificate_keys_is_refused_naming_them()
    {
        var error = ErrorOf("");
        error.Should().Contain("`listeners[1].tls`").And.Contain("`tls_certificate_path`").And.Contain("`tls_private_key_path`");
    }

    [Fact]
    public void A_certificate_without_its_key_path_is_refused_naming_the_missing_key()
    {
        var (leaf, _) = NewCertificate("matrix.example.org");
        var certificate = Write("cert.pem", leaf.ExportCertificatePem());
        ErrorOf($"tls_certificate_path: '{certificate}'\n").Should().Contain("`tls_private_key_path` is missing");
    }

    [Fact]
    public void A_missing_certificate_file_is_refused_naming_the_key_and_the_file()
    {
        var (_, keyPem) = NewCertificate("matrix.example.org");
        var key = Write("key.pem", keyPem);
        var missing = Path.Combine(_directory, "nowhere.pem");
        ErrorOf($"tls_certificate_path: '{missing}'\ntls_private_key_path: '{key}'\n")
            .Should().Contain("`tls_certificate_path`").And.Contain(missing).And.Contain("cannot be read");
    }

    [Fact]
    public void A_missing_key_file_is_refused_naming_the_key_and_the_file()
    {
        var (leaf, _) = NewCertificate("matrix.example.org");
        var certificate = Write("cert.pem", leaf.ExportCertificatePem());
        var missing = Path.Combine(_directory, "nokey.pem");
        ErrorOf($"tls_certificate_path: '{certificate}'\ntls_private_key_path: '{missing}'\n")
            .Should().Contain("`tls_private_key_path`").And.Contain(missing).And.Contain("cannot be read");
    }

    [Fact]
    public void A_key_of_another_certificate_is_refused_naming_the_key()
    {
        var (leaf, _) = NewCertificate("matrix.example.org");
        var (_, otherKey) = NewCertificate("other.example.org");
        var certificate = Write("cert.pem", leaf.ExportCertificatePem());
        var key = Write("other-key.pem", otherKey);
        ErrorOf($"tls_certificate_path: '{certificate}'\ntls_private_key_path: '{key}'\n")
            .Should().Contain("`tls_private_key_path`").And.Contain(key).And.Contain("not the private key of the certificate");
    }

    [Fact]
    public void Files_without_pem_blocks_are_refused_naming_their_key()
    {
        var (leaf, keyPem) = NewCertificate("matrix.example.org");
        var junk = Write("junk.pem", "not a certificate");
        var certificate = Write("cert.pem", leaf.ExportCertificatePem());
        var key = Write("key.pem", keyPem);
        ErrorOf($"tls_certificate_path: '{junk}'\ntls_private_key_path: '{key}'\n").Should().Contain("`tls_certificate_path`").And.Contain("no PEM certificate");
        ErrorOf($"tls_certificate_path: '{certificate}'\ntls_private_key_path: '{junk}'\n").Should().Contain("`tls_private_key_path`").And.Contain("no PEM private key");
    }

    [Fact]
    public void The_generated_tls_federation_listener_example_loads_once_uncommented()
    {
        var (leaf, keyPem) = NewCertificate("example.org");
        var certificate = Write("fullchain.pem", leaf.ExportCertificatePem());
        var key = Write("privkey.pem", keyPem);
        var generated = HomeserverConfigGenerator.Generate(new GenerateConfigRequest("example.org", "/srv/hs/data", "localhost", 5432, "postgres", "homeserver"));
        var lines = generated.Split('\n').ToList();
        var start = lines.FindIndex(l => l.StartsWith("#   - port: 8448", StringComparison.Ordinal));
        start.Should().BePositive("the generated config shows a TLS federation listener");
        for (var i = start; lines[i].StartsWith("#   ", StringComparison.Ordinal); i++) lines[i] = lines[i][2..];
        var yaml = string.Join('\n', lines)
            .Replace("# tls_certificate_path: /etc/letsencrypt/live/example.org/fullchain.pem", $"tls_certificate_path: '{certificate}'", StringComparison.Ordinal)
            .Replace("# tls_private_key_path: /etc/letsencrypt/live/example.org/privkey.pem", $"tls_private_key_path: '{key}'", StringComparison.Ordinal);

        var options = HomeserverConfigLoader.LoadFromYaml(yaml, "homeserver.yaml");

        var federation = options.Listeners.Single(l => l.Port == 8448);
        federation.Tls.Should().BeTrue();
        federation.Resources.Should().BeEquivalentTo(["federation"]);
        options.ListenerCertificate!.Certificate.Subject.Should().Be("CN=example.org");
    }

    [Fact]
    public void A_worker_tls_listener_needs_the_certificate_in_homeserver_yaml()
    {
        var options = HomeserverConfigLoader.LoadFromYaml("server_name: example.org\ndatabase: {args: {user: u, dbname: d}}\n", "homeserver.yaml");
        var worker = HomeserverConfigLoader.LoadWorkerFromYaml(
            "worker_name: federation1\nworker_listeners: [{port: 8448, tls: true, resources: [{names: [federation]}]}]\n", "federation1.yaml");

        FluentActions.Invoking(() => ProcessSettingsLoader.FromOptions(options, worker, ProcessKind.ApiHost))
            .Should().Throw<ConfigurationException>().Which.Message.Should().Contain("`worker_listeners[0].tls`").And.Contain("`tls_certificate_path`");
    }
}
