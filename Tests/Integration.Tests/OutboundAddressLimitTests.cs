using System.Net;
using System.Text.Json.Nodes;
using Homeserver.Cluster.Http;
using Homeserver.Configuration;
using Homeserver.Tests.Integration.Cluster;
using Homeserver.Tests.Integration.ThreePids;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Homeserver.Tests.Integration;

/// <summary>
/// One silo and one API host with Synapse's default <c>ip_range_blacklist</c> and no whitelist: push
/// gateways and identity servers on loopback, which users name, are never reached.
/// </summary>
public sealed class DefaultBlacklistClusterFixture : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;
    public FakeIdentityServer IdentityServer { get; private set; } = null!;
    public CapturedLogs SiloLogs { get; } = new();

    public async Task InitializeAsync()
    {
        IdentityServer = await FakeIdentityServer.StartAsync();
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions
        {
            InitialSilosCount = 1,
            OutboundIpRangeWhitelist = [],
            SiloLogs = SiloLogs,
            ThreePids = new ThreePidOptions { IdentityServerPlainHttp = true },
        });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await IdentityServer.DisposeAsync();
    }
}

/// <summary>
/// Synapse's blocklisting HTTP client for push gateways and identity servers: the address is checked
/// after DNS, on every connection, so a user cannot make the server call its own network.
/// </summary>
public sealed class OutboundAddressLimitTests(DefaultBlacklistClusterFixture fixture) : IClassFixture<DefaultBlacklistClusterFixture>
{
    [Fact]
    public async Task An_identity_server_on_a_blacklisted_address_is_never_called_and_the_client_gets_502()
    {
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var alice = await MatrixClient.RegisteredAsync(address);
        var room = await alice.CreateRoomAsync(new JsonObject());

        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/rooms/{room}/invite", new JsonObject
        {
            ["id_server"] = fixture.IdentityServer.ServerName,
            ["id_access_token"] = FakeIdentityServer.AccessToken,
            ["medium"] = "email",
            ["address"] = "someone@example.org",
        });

        (status, body["errcode"]!.GetValue<string>()).Should().Be((502, "M_UNKNOWN"), body.ToJsonString());
        fixture.IdentityServer.Calls.Should().BeEmpty("127.0.0.1 is in Synapse's default ip_range_blacklist");
        var (stateStatus, state) = await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/state");
        stateStatus.Should().Be(200);
        state["_raw"]!.GetValue<string>().Should().NotContain("m.room.third_party_invite");
    }

    [Fact]
    public async Task A_push_gateway_on_a_blacklisted_address_gets_nothing_and_the_refusal_is_logged_with_its_cause()
    {
        await using var gateway = await PlainGateway.StartAsync();
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var alice = await MatrixClient.RegisteredAsync(address);
        using var bob = await MatrixClient.RegisteredAsync(address);
        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);
        (await bob.PostAsync("/_matrix/client/v3/pushers/set", new JsonObject
        {
            ["kind"] = "http", ["app_id"] = "org.example.app", ["pushkey"] = $"key-{Guid.NewGuid():N}", ["app_display_name"] = "Example",
            ["device_display_name"] = "phone", ["lang"] = "en", ["data"] = new JsonObject { ["url"] = gateway.Url },
        })).Status.Should().Be(200);

        await alice.SendTextAsync(room, "to a private address");

        await Eventually.WaitUntilAsync(() => fixture.SiloLogs.Entries.Any(e => e.Message.Contains(gateway.Url)),
            "the refused push to be logged");
        var failure = fixture.SiloLogs.Entries.First(e => e.Message.Contains(gateway.Url));
        failure.Level.Should().Be(LogLevel.Warning);
        Causes(failure.Exception!).Should().Contain(e => e.Message.Contains("ip_range_blacklist"), "the log names why: {0}", failure.Exception);
        gateway.Requests.Should().Be(0);
    }

    [Fact]
    public async Task Every_outbound_client_connects_only_where_the_blacklist_allows_and_the_whitelist_reopens_an_address()
    {
        await using var gateway = await PlainGateway.StartAsync();

        static HttpClient ClientWith(OutboundHttpOptions options) =>
            new ServiceCollection().AddOutboundHttp(options).BuildServiceProvider().GetRequiredService<IHttpClientFactory>().CreateClient("any");

        using var blocked = ClientWith(new OutboundHttpOptions());
        var refused = await blocked.Invoking(c => c.GetAsync(gateway.Url)).Should().ThrowAsync<HttpRequestException>();
        refused.Which.ToString().Should().Contain("ip_range_blacklist");
        using var byName = ClientWith(new OutboundHttpOptions());
        (await byName.Invoking(c => c.GetAsync(gateway.Url.Replace("127.0.0.1", "localhost"))).Should().ThrowAsync<HttpRequestException>())
            .Which.ToString().Should().Contain("ip_range_blacklist", "a name is checked by the addresses it resolves to");
        using var mapped = ClientWith(new OutboundHttpOptions());
        await mapped.Invoking(c => c.GetAsync(gateway.Url.Replace("127.0.0.1", "[::ffff:127.0.0.1]"))).Should().ThrowAsync<HttpRequestException>(
            "an IPv6 spelling of a blocked IPv4 address is blocked too");
        gateway.Requests.Should().Be(0);

        using var allowed = ClientWith(new OutboundHttpOptions
        {
            IpRangeWhitelist = FederationConfigReader.Ranges(["127.0.0.1"], "test", "ip_range_whitelist"),
        });
        (await allowed.GetAsync(gateway.Url)).StatusCode.Should().Be(HttpStatusCode.OK);
        gateway.Requests.Should().Be(1);
    }

    private static IEnumerable<Exception> Causes(Exception e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException) yield return cause;
    }

    /// <summary>A plain-HTTP push gateway on 127.0.0.1 that counts what reaches it.</summary>
    private sealed class PlainGateway : IAsyncDisposable
    {
        private WebApplication _app = null!;
        private int _requests;

        public string Url { get; private set; } = "";
        public int Requests => Volatile.Read(ref _requests);

        public static async Task<PlainGateway> StartAsync()
        {
            var gateway = new PlainGateway();
            var port = LoopbackPorts.Free();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
            gateway._app = builder.Build();
            gateway._app.Map("/_matrix/push/v1/notify", () =>
            {
                Interlocked.Increment(ref gateway._requests);
                return Results.Json(new JsonObject { ["rejected"] = new JsonArray() });
            });
            await gateway._app.StartAsync();
            gateway.Url = $"http://127.0.0.1:{port}/_matrix/push/v1/notify";
            return gateway;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
