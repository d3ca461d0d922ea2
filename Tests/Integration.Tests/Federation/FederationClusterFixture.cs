using Homeserver.Configuration;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Our server (one silo, one API host) beside another homeserver it may reach: a <see cref="RemoteHomeserver"/>
/// on 127.0.0.1 over HTTPS with a certificate from a private CA that <c>federation_custom_ca_list</c> names,
/// and loopback let through <c>ip_range_whitelist</c>. Remote servers are named by IP literal and port, so
/// no DNS is involved; each test makes its own with <see cref="NewRemote"/> on a port of its own.
/// </summary>
public class FederationClusterFixture : IAsyncLifetime
{
    private readonly bool _allowPublicRoomsOverFederation;

    public FederationClusterFixture() : this(false)
    {
    }

    internal FederationClusterFixture(bool allowPublicRoomsOverFederation) => _allowPublicRoomsOverFederation = allowPublicRoomsOverFederation;

    public const string OurServerName = "hs.fed.test";

    private readonly string _caFile = Path.Combine(Path.GetTempPath(), $"federation-cluster-ca-{Guid.NewGuid():N}.pem");
    private readonly List<RemoteHomeserver> _remotes = [];

    public TestCertificateAuthority Ca { get; } = new("Federation cluster test CA");
    public HomeserverTestCluster Cluster { get; private set; } = null!;
    public Uri BaseAddress => Cluster.ApiHosts[0].BaseAddress;

    /// <summary>Lets a derived fixture change the cluster's options (federation sender timings, say).</summary>
    protected virtual void Configure(HomeserverTestClusterOptions options)
    {
    }

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_caFile, Ca.Certificate.ExportCertificatePem());
        var options = new HomeserverTestClusterOptions
        {
            InitialSilosCount = 1,
            ServerName = OurServerName,
            FederationCustomCaList = [_caFile],
            AllowPublicRoomsOverFederation = _allowPublicRoomsOverFederation,
            Federation = new FederationClientOptions { IpRangeWhitelist = FederationConfigReader.Ranges(["127.0.0.1"], "test", "ip_range_whitelist") },
        };
        Configure(options);
        Cluster = new HomeserverTestCluster(options);
        await Cluster.DeployAsync();
    }

    /// <summary>Another homeserver named 127.0.0.1:port, whose keys it serves itself.</summary>
    public async Task<(RemoteHomeserver Remote, FakeServerKeys Keys)> NewRemote()
    {
        var remote = await RemoteHomeserver.StartAsync(Ca.IssueFor("127.0.0.1"));
        lock (_remotes) _remotes.Add(remote);
        var keys = new FakeServerKeys($"127.0.0.1:{remote.Port}");
        keys.Serve(remote, () => keys.Answer(DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds()));
        return (remote, keys);
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var remote in _remotes) await remote.DisposeAsync();
        await Cluster.DisposeAsync();
        Ca.Dispose();
        File.Delete(_caFile);
    }
}

/// <summary>The same shape with <c>allow_public_rooms_over_federation: true</c>, so other servers may read the room directory.</summary>
public sealed class OpenDirectoryFederationFixture : IAsyncLifetime
{
    public FederationClusterFixture Federation { get; } = new(allowPublicRoomsOverFederation: true);

    public Task InitializeAsync() => Federation.InitializeAsync();

    public Task DisposeAsync() => Federation.DisposeAsync();
}
