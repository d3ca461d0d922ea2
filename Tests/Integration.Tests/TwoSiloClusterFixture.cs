using Orleans.TestingHost;

namespace Homeserver.Tests.Integration;

/// <summary>Two silos and one API host on a fresh database, shared by the tests of one class (fresh room IDs per test).</summary>
public sealed class TwoSiloClusterFixture() : ClusterFixture(apiHosts: 1)
{
    public static string NewRoomId() => $"!{Guid.NewGuid():N}:test.local";
}

/// <summary>Two silos and <paramref name="apiHosts"/> API hosts on a fresh database, shared by the tests of one class.</summary>
public abstract class ClusterFixture(int apiHosts) : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(initialSilosCount: 2);
        builder.Options.ApiHostCount = apiHosts;
        builder.Options.GrainResponseTimeout = TimeSpan.FromSeconds(20);
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
