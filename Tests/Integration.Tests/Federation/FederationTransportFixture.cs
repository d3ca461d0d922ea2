using System.Net;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Transport;
using Homeserver.Storage.Migrations;
using Homeserver.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// What the federation transport tests share: a PostgreSQL database holding our signing key, a private CA
/// the client's <c>federation_custom_ca_list</c> names, a loopback DNS server and a remote homeserver
/// certified for <c>*.fed.test</c> and 127.0.0.1. Each test builds its own client (own caches, own clock)
/// from a homeserver.yaml, through the same registration every process uses.
/// </summary>
public sealed class FederationTransportFixture : IAsyncLifetime
{
    public const string OurServerName = "origin.fed.test";

    private readonly string _caFile = Path.Combine(Path.GetTempPath(), $"federation-ca-{Guid.NewGuid():N}.pem");
    private int _names;

    public TestDatabase Database { get; private set; } = null!;
    public TestCertificateAuthority Ca { get; } = new("Federation test CA");
    public LoopbackDnsServer Dns { get; } = new();
    public RemoteHomeserver Remote { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_caFile, Ca.Certificate.ExportCertificatePem());
        Database = await TestDatabase.CreateAsync();
        Remote = await RemoteHomeserver.StartAsync(Ca.IssueFor("*.fed.test", "127.0.0.1"));
        await using var client = CreateClient();
        await client.Services.GetRequiredService<MigrationRunner>().ApplyAsync();
    }

    /// <summary>A fresh name under fed.test (which the remote's certificate covers), so tests never share cache entries.</summary>
    public string Name(string prefix) => $"{prefix}-{Interlocked.Increment(ref _names)}.fed.test";

    /// <summary>
    /// A client configured by homeserver.yaml lines <paramref name="yaml"/> added to a minimal file trusting the test CA;
    /// DNS goes to the loopback server unless <paramref name="systemDns"/>, and well-known fetches to the remote's port.
    /// </summary>
    public FederationTestClient CreateClient(string yaml = "ip_range_whitelist: ['127.0.0.1']", TimeProvider? clock = null, bool systemDns = false)
    {
        var file = $$"""
            server_name: {{OurServerName}}
            listeners:
              - port: 8008
                resources: [{names: [client, federation]}]
            database:
              name: psycopg2
              args: {user: test, dbname: test}
            federation_custom_ca_list: ['{{_caFile}}']
            {{yaml}}
            """;
        var options = HomeserverConfigLoader.LoadFromYaml(file, "homeserver.yaml");
        var settings = ProcessSettingsLoader.FromOptions(options, null, ProcessKind.Monolith) with
        {
            DatabaseConnectionString = Database.ConnectionString,
        };
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddProcessServices(settings);
        services.Configure<FederationTransportOptions>(o =>
        {
            o.NameServers = systemDns ? null : [Dns.EndPoint];
            o.WellKnownPort = Remote.Port;
            o.ConnectTimeout = TimeSpan.FromSeconds(5);
        });
        if (clock is not null) services.AddSingleton(clock);
        return new FederationTestClient(services.BuildServiceProvider());
    }

    public async Task DisposeAsync()
    {
        await Remote.DisposeAsync();
        await Dns.DisposeAsync();
        await Database.DisposeAsync();
        Ca.Dispose();
        File.Delete(_caFile);
    }
}

/// <summary>One client's service provider, disposed (connections, caches) with the test.</summary>
public sealed class FederationTestClient(ServiceProvider services) : IAsyncDisposable
{
    public ServiceProvider Services => services;

    public IFederationClient Client => services.GetRequiredService<IFederationClient>();

    public ValueTask DisposeAsync() => services.DisposeAsync();
}
