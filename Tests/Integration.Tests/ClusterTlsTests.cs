using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Homeserver.Tests.Integration.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Homeserver.Tests.Integration;

/// <summary>Two silos and an API host that present and require one cluster certificate on every Orleans connection.</summary>
public sealed class TlsClusterFixture : IAsyncLifetime
{
    public string CertificateDirectory { get; } = Directory.CreateTempSubdirectory("hs-cluster-cert").FullName;
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public string ClusterCertificate => Path.Combine(CertificateDirectory, "cluster.pfx");
    public string OtherCertificate => Path.Combine(CertificateDirectory, "other.pfx");

    public async Task InitializeAsync()
    {
        WriteSelfSigned(ClusterCertificate);
        WriteSelfSigned(OtherCertificate);
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions { TlsCertificatePath = ClusterCertificate });
        await Cluster.DeployAsync();
    }

    private static void WriteSelfSigned(string path)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = ClusterCertificates.SelfSigned(key, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12));
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Directory.Delete(CertificateDirectory, recursive: true);
    }
}

public sealed class ClusterTlsTests(TlsClusterFixture fixture) : IClassFixture<TlsClusterFixture>
{
    [Fact]
    public async Task Silos_and_api_hosts_with_the_cluster_certificate_serve_clients()
    {
        using var client = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await client.RegisterAsync("tls" + Guid.NewGuid().ToString("N")[..8], "pw");
        var room = await client.CreateRoomAsync(new JsonObject());
        var (status, _) = await client.PutAsync($"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
            new JsonObject { ["msgtype"] = "m.text", ["body"] = "over TLS" });
        status.Should().Be(200);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_orleans_client_without_the_cluster_certificate_cannot_call_a_grain(bool withOtherCertificate)
    {
        var settings = fixture.Cluster.ApiHosts[0].Settings with
        {
            InstanceName = "intruder",
            Orleans = fixture.Cluster.ApiHosts[0].Settings.Orleans with
            {
                TlsCertificatePath = withOtherCertificate ? fixture.OtherCertificate : null,
                AllowInsecureLoopback = !withOtherCertificate,
            },
        };
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => ClusterIdentity.Apply(o, settings));
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = ClusterIdentity.NpgsqlInvariant;
                o.ConnectionString = fixture.Cluster.ConnectionString;
            });
            Homeserver.Cluster.Security.ClusterTls.Configure(client, settings);
            client.UseConnectionRetryFilter((_, _) => Task.FromResult(false));
        });
        using var host = builder.Build();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var connect = () => host.StartAsync();
        await connect.Should().ThrowAsync<Exception>("the gateways refuse a peer without the cluster certificate");
        started.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "a refused client fails, it does not hang");
    }

    [Theory]
    [InlineData("gateway")]
    [InlineData("silo")]
    public async Task A_plain_tcp_connection_to_a_gateway_or_silo_port_is_closed_without_an_answer(string port)
    {
        var handle = fixture.Cluster.Silos[0].Handle;
        var endpoint = port == "gateway" ? handle.GatewayAddress!.Endpoint : handle.SiloAddress.Endpoint;
        using var socket = new TcpClient();
        await socket.ConnectAsync(endpoint.Address, endpoint.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var read = 0;
        try
        {
            read = await stream.ReadAsync(buffer, timeout.Token);
        }
        catch (IOException)
        {
            // Reset by the silo: refused as well.
        }
        read.Should().Be(0, "the silo closes a connection that does not speak TLS with the cluster certificate");
    }
}

public sealed class ClusterCertificateCheckTests
{
    [Theory]
    [InlineData("same key, in date", true)]
    [InlineData("another key", false)]
    [InlineData("same key, expired", false)]
    public void Only_a_certificate_with_the_cluster_key_and_in_its_dates_is_a_peer(string presented, bool accepted)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var otherKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var now = DateTimeOffset.UtcNow;
        using var cluster = ClusterCertificates.SelfSigned(key, now.AddDays(-1), now.AddYears(1));
        using var peer = presented switch
        {
            "another key" => ClusterCertificates.SelfSigned(otherKey, now.AddDays(-1), now.AddYears(1)),
            "same key, expired" => ClusterCertificates.SelfSigned(key, now.AddYears(-2), now.AddYears(-1)),
            _ => ClusterCertificates.SelfSigned(key, now.AddDays(-1), now.AddMonths(6)),
        };
        Homeserver.Cluster.Security.ClusterTls.IsClusterCertificate(peer, cluster, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors)
            .Should().Be(accepted);
    }
}

/// <summary>What scripts/cluster-cert makes: one self-signed certificate for both ends of every connection.</summary>
internal static class ClusterCertificates
{
    public static X509Certificate2 SelfSigned(ECDsa key, DateTimeOffset from, DateTimeOffset until)
    {
        var request = new CertificateRequest("CN=homeserver-cluster", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        return request.CreateSelfSigned(from, until);
    }
}
