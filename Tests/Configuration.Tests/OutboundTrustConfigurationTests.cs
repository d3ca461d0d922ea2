using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Homeserver.Configuration;

namespace Homeserver.Tests.Configuration;

/// <summary><c>federation_custom_ca_list</c>: PEM files read and parsed while the configuration loads, each fault one sentence naming key and path.</summary>
public sealed class OutboundTrustConfigurationTests : IDisposable
{
    private const string Minimal = """
        server_name: example.org
        listeners:
          - port: 8008
            resources: [{names: [client]}]
        database:
          name: psycopg2
          args: {user: synapse, dbname: synapse}
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("outbound-trust-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static HomeserverOptions Load(params string[] paths) =>
        HomeserverConfigLoader.LoadFromYaml(Minimal + "\nfederation_custom_ca_list: [" + string.Join(", ", paths.Select(p => $"'{p}'")) + "]\n", "homeserver.yaml");

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static X509Certificate2 NewCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public void Without_the_key_the_system_store_is_trusted()
    {
        HomeserverConfigLoader.LoadFromYaml(Minimal, "homeserver.yaml").OutboundHttp.CustomCertificateAuthorities.Should().BeNull();
    }

    [Fact]
    public void Every_certificate_of_every_listed_file_is_trusted()
    {
        using var first = NewCa("First CA");
        using var second = NewCa("Second CA");
        using var third = NewCa("Third CA");
        var one = Write("one.pem", first.ExportCertificatePem());
        var two = Write("two.pem", "a comment before the blocks\n" + second.ExportCertificatePem() + "\n" + third.ExportCertificatePem());

        var roots = Load(one, two).OutboundHttp.CustomCertificateAuthorities;

        roots.Should().NotBeNull();
        roots!.Select(c => c.Subject).Should().Equal("CN=First CA", "CN=Second CA", "CN=Third CA");
    }

    [Fact]
    public void A_missing_file_fails_naming_the_key_and_path()
    {
        var missing = Path.Combine(_directory, "missing.pem");
        var load = () => Load(missing);
        load.Should().Throw<ConfigurationException>().Which.Message.Should()
            .Contain("homeserver.yaml").And.Contain("`federation_custom_ca_list`").And.Contain(missing).And.Contain("cannot be read");
    }

    [Fact]
    public void A_file_with_a_broken_PEM_certificate_fails_naming_the_key_and_path()
    {
        var bad = Write("bad.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        var load = () => Load(bad);
        load.Should().Throw<ConfigurationException>().Which.Message.Should()
            .Contain("`federation_custom_ca_list`").And.Contain(bad).And.Contain("invalid PEM certificate");
    }

    [Fact]
    public void A_file_without_any_certificate_fails_naming_the_key_and_path()
    {
        var empty = Write("key-only.pem", "just text, no PEM block\n");
        var load = () => Load(empty);
        load.Should().Throw<ConfigurationException>().Which.Message.Should()
            .Contain("`federation_custom_ca_list`").And.Contain(empty).And.Contain("no PEM certificate");
    }

    [Fact]
    public void An_empty_list_fails_rather_than_trusting_nothing()
    {
        var load = () => HomeserverConfigLoader.LoadFromYaml(Minimal + "\nfederation_custom_ca_list: []\n", "homeserver.yaml");
        load.Should().Throw<ConfigurationException>().Which.Message.Should().Contain("`federation_custom_ca_list` is an empty list");
    }
}
