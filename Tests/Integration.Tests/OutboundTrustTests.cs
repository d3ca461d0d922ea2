using System.Collections.Concurrent;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Homeserver.Tests.Integration.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Homeserver.Tests.Integration;

/// <summary>One silo and one API host whose <c>federation_custom_ca_list</c> names a private CA made here, with the silo's log kept.</summary>
public sealed class OutboundTrustClusterFixture : IAsyncLifetime
{
    private readonly string _caFile = Path.Combine(Path.GetTempPath(), $"outbound-trust-{Guid.NewGuid():N}.pem");

    public HomeserverTestCluster Cluster { get; private set; } = null!;
    public TestCertificateAuthority TrustedCa { get; } = new("Outbound trust test CA");
    public CapturedLogs SiloLogs { get; } = new();

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_caFile, TrustedCa.Certificate.ExportCertificatePem());
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions
        {
            InitialSilosCount = 1, FederationCustomCaList = [_caFile], SiloLogs = SiloLogs,
        });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        File.Delete(_caFile);
        TrustedCa.Dispose();
    }
}

/// <summary>
/// Push gateways over real HTTPS, their certificates issued by private CAs: the one the server's
/// <c>federation_custom_ca_list</c> names is trusted, another is not, and a refused handshake is a
/// logged delivery failure, retried, while the sender goes on pushing to others.
/// </summary>
public sealed class OutboundTrustTests(OutboundTrustClusterFixture fixture) : IClassFixture<OutboundTrustClusterFixture>
{
    [Fact]
    public async Task A_gateway_certified_by_the_custom_CA_gets_notifications_and_one_certified_by_another_CA_is_refused_with_the_cause_logged()
    {
        using var otherCa = new TestCertificateAuthority("Some other CA");
        await using var trusted = await HttpsGateway.StartAsync(fixture.TrustedCa.IssueFor127001());
        await using var untrusted = await HttpsGateway.StartAsync(otherCa.IssueFor127001());

        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var alice = new MatrixClient(address);
        using var bob = new MatrixClient(address);
        using var carol = new MatrixClient(address);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId, carol.UserId) });
        await bob.JoinAsync(room);
        await carol.JoinAsync(room);
        // Distinct pushkeys: a pushkey set again under the same app moves to the user who set it last.
        JsonObject Pusher(string pushkey, string url) => new()
        {
            ["kind"] = "http", ["app_id"] = "org.example.app", ["pushkey"] = pushkey, ["app_display_name"] = "Example",
            ["device_display_name"] = "phone", ["lang"] = "en", ["data"] = new JsonObject { ["url"] = url },
        };
        (await bob.PostAsync("/_matrix/client/v3/pushers/set", Pusher("bob-key", untrusted.Url))).Status.Should().Be(200);
        (await carol.PostAsync("/_matrix/client/v3/pushers/set", Pusher("carol-key", trusted.Url))).Status.Should().Be(200);

        var sent = await alice.SendTextAsync(room, "over https");

        await Eventually.WaitUntilAsync(() => trusted.Delivered.Count >= 1, "the notification to reach the gateway the custom CA certifies");
        var notification = trusted.Delivered.Single();
        notification["event_id"]!.GetValue<string>().Should().Be(sent);
        notification["content"]!["body"]!.GetValue<string>().Should().Be("over https");

        await Eventually.WaitUntilAsync(() => fixture.SiloLogs.Entries.Any(e => e.Message.Contains(untrusted.Url)),
            "the refused handshake with the other CA's gateway to be logged");
        var failure = fixture.SiloLogs.Entries.First(e => e.Message.Contains(untrusted.Url));
        failure.Level.Should().Be(LogLevel.Warning);
        failure.Message.Should().Contain(bob.UserId);
        failure.Exception.Should().NotBeNull();
        Causes(failure.Exception!).OfType<AuthenticationException>().Should().NotBeEmpty(
            "the certificate chain of the other CA's gateway ends at a root the server does not trust: {0}", failure.Exception);
        untrusted.Delivered.Should().BeEmpty("no request gets past a refused handshake");

        // The sender carries on: the next message reaches the trusted gateway too, and Bob's pusher stays, to be retried.
        var next = await alice.SendTextAsync(room, "still pushing");
        await Eventually.WaitUntilAsync(() => trusted.Delivered.Count >= 2, "the next notification");
        trusted.Delivered[1]["event_id"]!.GetValue<string>().Should().Be(next);
        (await bob.GetAsync("/_matrix/client/v3/pushers")).Body["pushers"]!.AsArray().Should().ContainSingle();
        untrusted.Delivered.Should().BeEmpty();
    }

    private static IEnumerable<Exception> Causes(Exception e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException) yield return cause;
    }

    /// <summary>A push gateway on 127.0.0.1 over HTTPS with the given certificate, recording notifications.</summary>
    private sealed class HttpsGateway : IAsyncDisposable
    {
        private WebApplication _app = null!;
        private readonly List<JsonObject> _delivered = [];

        public string Url { get; private set; } = "";

        public IReadOnlyList<JsonObject> Delivered
        {
            get { lock (_delivered) return [.. _delivered]; }
        }

        public static async Task<HttpsGateway> StartAsync(X509Certificate2 certificate)
        {
            var gateway = new HttpsGateway();
            var port = LoopbackPorts.Free();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseHttps(certificate)));
            gateway._app = builder.Build();
            gateway._app.MapPost("/_matrix/push/v1/notify", async (HttpContext http) =>
            {
                var body = (JsonNode.Parse(await new StreamReader(http.Request.Body).ReadToEndAsync()) as JsonObject)!;
                lock (gateway._delivered) gateway._delivered.Add(body["notification"]!.AsObject());
                return Results.Json(new JsonObject { ["rejected"] = new JsonArray() });
            });
            await gateway._app.StartAsync();
            gateway.Url = $"https://127.0.0.1:{port}/_matrix/push/v1/notify";
            return gateway;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}

/// <summary>A private root CA made in the test, issuing server certificates.</summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCertificateAuthority(string name)
    {
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>A server certificate for https://127.0.0.1, with its private key.</summary>
    public X509Certificate2 IssueFor127001() => IssueFor("127.0.0.1");

    /// <summary>A server certificate, with its private key, for these names: IP addresses or DNS names (wildcards allowed).</summary>
    public X509Certificate2 IssueFor(params string[] names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var subjectNames = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var address)) subjectNames.AddIpAddress(address);
            else subjectNames.AddDnsName(name);
        }
        request.CertificateExtensions.Add(subjectNames.Build());
        using var issued = request.Create(Certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12),
            RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        // Through PKCS#12, so the key outlives this method's ECDsa and Kestrel can use it on any platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}

/// <summary>Log entries kept in memory, for a test to find the one that explains a failure.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public sealed record Entry(string Category, LogLevel Level, string Message, Exception? Exception);

    public IReadOnlyCollection<Entry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception));
    }
}
