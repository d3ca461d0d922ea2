using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration;

/// <summary>One silo and one API host with <c>allow_guest_access: true</c>, shared by the tests of one class.</summary>
public sealed class GuestAccessClusterFixture() : SingleSiloClusterFixture(new HomeserverTestClusterOptions { InitialSilosCount = 1, AllowGuestAccess = true });

/// <summary>One silo and one API host with guest access left at its default (off, as in Synapse).</summary>
public sealed class GuestAccessDisabledClusterFixture() : SingleSiloClusterFixture(new HomeserverTestClusterOptions { InitialSilosCount = 1 });

public abstract class SingleSiloClusterFixture(HomeserverTestClusterOptions options) : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new HomeserverTestCluster(options);
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
