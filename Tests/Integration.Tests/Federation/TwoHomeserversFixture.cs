using System.Net;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Two instances of this homeserver that federate with each other, as two operators' servers would: each
/// its own database and cluster (one silo, one API host), named <c>127.0.0.1:port</c> after its federation
/// listener, which speaks HTTPS with a certificate from a CA made here that both trust
/// (<c>federation_custom_ca_list</c>), with loopback let through <c>ip_range_whitelist</c>. Clients use each
/// server's plain client listener.
/// </summary>
public sealed class TwoHomeserversFixture : IAsyncLifetime
{
    private readonly string _caFile = Path.Combine(Path.GetTempPath(), $"two-homeservers-ca-{Guid.NewGuid():N}.pem");

    public TestCertificateAuthority Ca { get; } = new("Two homeservers test CA");
    public FederatedHomeserver First { get; private set; } = null!;
    public FederatedHomeserver Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_caFile, Ca.Certificate.ExportCertificatePem());
        First = await FederatedHomeserver.StartAsync(Ca, _caFile);
        Second = await FederatedHomeserver.StartAsync(Ca, _caFile);
    }

    public async Task DisposeAsync()
    {
        await First.Cluster.DisposeAsync();
        await Second.Cluster.DisposeAsync();
        Ca.Dispose();
        File.Delete(_caFile);
    }
}

/// <summary>One of the <see cref="TwoHomeserversFixture"/> servers: its name, its cluster, and where its clients connect.</summary>
public sealed class FederatedHomeserver
{
    private FederatedHomeserver(string serverName, HomeserverTestCluster cluster) => (ServerName, Cluster) = (serverName, cluster);

    public string ServerName { get; }
    public HomeserverTestCluster Cluster { get; }
    public Uri ClientAddress => Cluster.ApiHosts[0].BaseAddress;

    /// <summary>The API host that serves only clients: it stays up while federation is cut.</summary>
    public Uri ClientOnlyAddress => Cluster.ApiHosts[1].BaseAddress;

    /// <summary>Cuts this server off from the other (its federation listener goes down); its users carry on through <see cref="ClientOnlyAddress"/>.</summary>
    public Task CutFederationAsync() => Cluster.StopApiHostAsync(Cluster.ApiHosts[0]);

    public Task RestoreFederationAsync() => Cluster.StartApiHostAgainAsync(Cluster.ApiHosts[0]);

    /// <summary>A newly registered user of this server.</summary>
    public async Task<MatrixClient> NewUserAsync()
    {
        var client = new MatrixClient(ClientAddress);
        await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
        return client;
    }

    internal static async Task<FederatedHomeserver> StartAsync(TestCertificateAuthority ca, string caFile)
    {
        var federationPort = LoopbackPorts.Free();
        var serverName = $"127.0.0.1:{federationPort}";
        var certificate = ca.IssueFor("127.0.0.1");
        var apiHosts = 0;
        var cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions
        {
            InitialSilosCount = 1,
            // The first API host serves clients and federation; the second clients only, so federation can be cut
            // (a netsplit) while both servers keep serving their users.
            ApiHostCount = 2,
            ServerName = serverName,
            FederationCustomCaList = [caFile],
            // A server that was down is retried within seconds, not Synapse's ten minutes.
            FederationSender = new FederationSenderOptions { MinRetryInterval = TimeSpan.FromSeconds(1), MaxRetryInterval = TimeSpan.FromSeconds(4) },
            Federation = new FederationClientOptions { IpRangeWhitelist = FederationConfigReader.Ranges(["127.0.0.1"], "test", "ip_range_whitelist") },
            ApiHostListeners = port => Interlocked.Increment(ref apiHosts) == 1
                ?
                [
                    new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "client", "metrics" }),
                    new ListenerSettings([IPAddress.Loopback], federationPort, new HashSet<string> { "federation" })
                    {
                        Tls = new ListenerTlsCertificate(certificate, []),
                    },
                ]
                : [new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "client", "metrics" })],
        });
        await cluster.DeployAsync();
        return new FederatedHomeserver(serverName, cluster);
    }
}
