using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration;

/// <summary>Two silos and one API host on a fresh database, shared by the tests of one class (fresh room IDs per test).</summary>
public sealed class TwoSiloClusterFixture() : ClusterFixture(apiHosts: 1)
{
    public static string NewRoomId() => $"!{Guid.NewGuid():N}:test.local";
}

/// <summary>Two silos and <paramref name="apiHosts"/> API hosts on a fresh database, shared by the tests of one class.</summary>
public abstract class ClusterFixture(int apiHosts) : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions { InitialSilosCount = 2, ApiHostCount = apiHosts });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
