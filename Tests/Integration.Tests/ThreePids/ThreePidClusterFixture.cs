using Homeserver.Configuration;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>
/// One silo and one API host that validate email through <see cref="Smtp"/> and reach identity servers
/// over plain HTTP (the test-only switch), with a fake identity server; shared by the tests of one class.
/// </summary>
public class ThreePidClusterFixture : IAsyncLifetime
{
    public const string NotifFrom = "Test Server <noreply@test.local>";

    public HomeserverTestCluster Cluster { get; private set; } = null!;
    public SmtpCapture Smtp { get; private set; } = null!;
    public FakeIdentityServer IdentityServer { get; private set; } = null!;

    public Uri BaseAddress => Cluster.ApiHosts[0].BaseAddress;

    /// <summary><c>request_token_inhibit_3pid_errors</c>.</summary>
    protected virtual bool InhibitRequestTokenErrors => false;

    public async Task InitializeAsync()
    {
        Smtp = new SmtpCapture();
        IdentityServer = await FakeIdentityServer.StartAsync();
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions
        {
            InitialSilosCount = 1,
            Email = new EmailOptions { SmtpHost = "127.0.0.1", SmtpPort = Smtp.Port, NotifFrom = NotifFrom, AppName = "Test Chat" },
            ThreePids = new ThreePidOptions
            {
                IdentityServerPlainHttp = true,
                ValidationRateLimit = new RateLimit(1000, 10000),
                AllowedLocal = [new AllowedThreePid("email", @"[^@]+@(example\.org|allowed\.test)$")],
                InhibitRequestTokenErrors = InhibitRequestTokenErrors,
            },
        });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await IdentityServer.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}

/// <summary>As <see cref="ThreePidClusterFixture"/>, with <c>request_token_inhibit_3pid_errors: true</c>.</summary>
public sealed class InhibitedThreePidErrorsClusterFixture : ThreePidClusterFixture
{
    protected override bool InhibitRequestTokenErrors => true;
}

/// <summary>One silo and one API host with no <c>email</c> section: the server validates no email.</summary>
public sealed class NoEmailClusterFixture : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions { InitialSilosCount = 1 });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
