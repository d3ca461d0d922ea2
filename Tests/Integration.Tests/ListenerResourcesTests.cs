using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration;

/// <summary>
/// One silo and one API host with two listeners, as an operator splits ports: plain HTTP with only the
/// client resource (behind a proxy), and HTTPS with only federation (8448), its certificate a self-signed
/// one written to PEM files and read through the config loader's <c>tls_certificate_path</c> and
/// <c>tls_private_key_path</c>.
/// </summary>
public sealed class FederationTlsClusterFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("federation-tls-").FullName;

    public HomeserverTestCluster Cluster { get; private set; } = null!;
    public X509Certificate2 Certificate { get; private set; } = null!;
    public int FederationPort { get; } = LoopbackPorts.Free();

    public Uri ClientAddress => Cluster.ApiHosts[0].BaseAddress;
    public Uri FederationAddress => new($"https://127.0.0.1:{FederationPort}");

    public async Task InitializeAsync()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test.local", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("test.local");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(_directory, "fullchain.pem");
        var keyPath = Path.Combine(_directory, "privkey.pem");
        await File.WriteAllTextAsync(certificatePath, created.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());
        var tls = ListenerCertificateFiles.Load(certificatePath, keyPath, "test cluster")!;
        Certificate = tls.Certificate;

        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions
        {
            InitialSilosCount = 1,
            ApiHostListeners = port =>
            [
                new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "client" }),
                new ListenerSettings([IPAddress.Loopback], FederationPort, new HashSet<string> { "federation" }) { Tls = tls },
            ],
        });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>Each listener serves only its resources' endpoints (Synapse's <c>_configure_named_resource</c>); a TLS listener speaks HTTPS.</summary>
public sealed class ListenerResourcesTests(FederationTlsClusterFixture fixture) : IClassFixture<FederationTlsClusterFixture>
{
    private HttpClient Client() => new() { BaseAddress = fixture.ClientAddress };

    /// <summary>Trusts exactly the test certificate, by thumbprint: anything else presented fails the handshake.</summary>
    private HttpClient Federation()
    {
        var expected = fixture.Certificate.Thumbprint;
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, errors) =>
                presented is not null && presented.Thumbprint == expected && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0,
        };
        return new HttpClient(handler) { BaseAddress = fixture.FederationAddress };
    }

    private static async Task ShouldBeUnrecognized(HttpResponseMessage response)
    {
        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body["errcode"]!.GetValue<string>().Should().Be("M_UNRECOGNIZED");
        body["error"]!.GetValue<string>().Should().StartWith("Unrecognized request");
    }

    [Fact]
    public async Task The_federation_listener_serves_server_keys_over_https()
    {
        using var http = Federation();
        using var response = await http.GetAsync("/_matrix/key/v2/server");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.RequestMessage!.RequestUri!.Scheme.Should().Be("https");
        var keys = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        keys["server_name"]!.GetValue<string>().Should().Be("test.local");

        using var version = await http.GetAsync("/_matrix/federation/v1/version");
        version.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_federation_listener_refuses_plain_http()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fixture.FederationPort}"), Timeout = TimeSpan.FromSeconds(30) };
        var plain = async () =>
        {
            using var response = await http.GetAsync("/_matrix/key/v2/server");
            return response.StatusCode;
        };
        // Kestrel answers a plain request on a TLS port with 400 or drops the connection; never the keys.
        try
        {
            (await plain()).Should().NotBe(HttpStatusCode.OK);
        }
        catch (HttpRequestException)
        {
        }
    }

    [Theory]
    [InlineData("/_matrix/client/versions")]
    [InlineData("/_MATRIX/Client/versions")]
    [InlineData("/_synapse/admin/v1/server_version")]
    [InlineData("/.well-known/matrix/client")]
    [InlineData("/metrics")]
    [InlineData("/")]
    public async Task The_federation_listener_answers_client_paths_as_unrecognized(string path)
    {
        using var http = Federation();
        using var response = await http.GetAsync(path);
        await ShouldBeUnrecognized(response);
        response.Headers.GetValues("Access-Control-Allow-Origin").Should().Equal(["*"], "CORS headers go on every answer, errors included");
    }

    [Theory]
    [InlineData("/_matrix/federation/v1/version")]
    [InlineData("/_matrix/key/v2/server")]
    [InlineData("/_matrix/federation/v1/openid/userinfo?access_token=x")]
    public async Task The_client_listener_answers_federation_paths_as_unrecognized(string path)
    {
        using var http = Client();
        using var response = await http.GetAsync(path);
        await ShouldBeUnrecognized(response);
    }

    [Fact]
    public async Task The_client_listener_serves_the_client_api()
    {
        using var http = Client();
        using var versions = await http.GetAsync("/_matrix/client/versions");
        versions.StatusCode.Should().Be(HttpStatusCode.OK);
        JsonNode.Parse(await versions.Content.ReadAsStringAsync())!["versions"]!.AsArray().Should().NotBeEmpty();

        using var whoami = await http.GetAsync("/_matrix/client/v3/account/whoami");
        whoami.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the endpoint runs and asks for a token");

        using var unknown = await http.GetAsync("/_matrix/client/v3/no_such_endpoint");
        await ShouldBeUnrecognized(unknown);
    }

    [Fact]
    public async Task A_preflight_on_the_client_listener_gets_200_with_the_cors_headers()
    {
        using var http = Client();
        using var request = new HttpRequestMessage(HttpMethod.Options, "/_matrix/client/v3/createRoom");
        request.Headers.Add("Origin", "https://app.example");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");

        using var response = await http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("Access-Control-Allow-Origin").Should().Equal("*");
        response.Headers.GetValues("Access-Control-Allow-Methods").Single().Should().Contain("POST");
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject().Should().BeEmpty();
    }

    [Fact]
    public async Task Health_and_readiness_answer_on_every_listener()
    {
        using var client = Client();
        using var federation = Federation();
        foreach (var http in new[] { client, federation })
        {
            using var health = await http.GetAsync("/health");
            health.StatusCode.Should().Be(HttpStatusCode.OK);
            using var ready = await http.GetAsync("/ready");
            ready.StatusCode.Should().Be(HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task Oversized_requests_keep_their_matrix_error_on_a_restricted_listener()
    {
        using var http = Federation();
        using var response = await http.GetAsync("/_matrix/federation/v1/version?x=" + new string('a', 9 * 1024));
        response.StatusCode.Should().Be(HttpStatusCode.RequestUriTooLong);
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!["errcode"]!.GetValue<string>().Should().Be("M_TOO_LARGE");
    }
}
