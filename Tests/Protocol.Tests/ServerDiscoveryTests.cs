using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>Server name resolution (server-server-api "Resolving server names"), each step against scripted lookups.</summary>
public sealed class ServerDiscoveryTests
{
    private sealed class Lookups : IServerDiscoveryLookups
    {
        public Dictionary<string, string> WellKnown { get; } = [];
        public Dictionary<string, IReadOnlyList<SrvRecord>> Srv { get; } = [];
        public List<string> Asked { get; } = [];

        public Task<JsonNode?> WellKnownAsync(string hostname, CancellationToken cancellationToken)
        {
            Asked.Add("well-known " + hostname);
            return Task.FromResult(WellKnown.TryGetValue(hostname, out var body) ? JsonNode.Parse(body) : null);
        }

        public Task<IReadOnlyList<SrvRecord>> SrvAsync(string serviceName, CancellationToken cancellationToken)
        {
            Asked.Add("srv " + serviceName);
            return Task.FromResult(Srv.TryGetValue(serviceName, out var records) ? records : (IReadOnlyList<SrvRecord>)[]);
        }
    }

    private static async Task<IReadOnlyList<FederationTarget>> ResolveAsync(string serverName, Lookups lookups) =>
        await ServerDiscovery.ResolveAsync(ServerName.Parse(serverName), lookups, CancellationToken.None);

    [Theory]
    [InlineData("192.0.2.10", "192.0.2.10", 8448, "192.0.2.10")]
    [InlineData("192.0.2.10:8000", "192.0.2.10", 8000, "192.0.2.10:8000")]
    [InlineData("[2001:db8::1]", "[2001:db8::1]", 8448, "[2001:db8::1]")]
    [InlineData("[2001:db8::1]:8000", "[2001:db8::1]", 8000, "[2001:db8::1]:8000")]
    [InlineData("matrix.example.org:8000", "matrix.example.org", 8000, "matrix.example.org:8000")]
    public async Task Steps_1_and_2_an_ip_literal_or_explicit_port_is_used_without_any_lookup(string name, string host, int port, string hostHeader)
    {
        var lookups = new Lookups();
        var target = (await ResolveAsync(name, lookups)).Should().ContainSingle().Subject;
        target.Should().Be(new FederationTarget(host, port, hostHeader, host));
        lookups.Asked.Should().BeEmpty();
    }

    [Fact]
    public async Task Step_3_1_and_3_2_delegation_to_an_ip_or_an_explicit_port()
    {
        var lookups = new Lookups();
        lookups.WellKnown["example.org"] = """{"m.server": "matrix.example.net:443"}""";
        lookups.WellKnown["example.com"] = """{"m.server": "198.51.100.7"}""";
        (await ResolveAsync("example.org", lookups)).Should().Equal(new FederationTarget("matrix.example.net", 443, "matrix.example.net:443", "matrix.example.net"));
        (await ResolveAsync("example.com", lookups)).Should().Equal(new FederationTarget("198.51.100.7", 8448, "198.51.100.7", "198.51.100.7"));
        lookups.Asked.Should().Equal("well-known example.org", "well-known example.com");
    }

    [Fact]
    public async Task Step_3_3_to_3_5_a_delegated_name_without_port_goes_through_its_srv_records_and_keeps_its_own_name()
    {
        var lookups = new Lookups();
        lookups.WellKnown["example.org"] = """{"m.server": "delegated.example.net"}""";
        lookups.Srv["_matrix-fed._tcp.delegated.example.net"] =
            [new SrvRecord("backup.example.net.", 8449, 20, 0), new SrvRecord("primary.example.net.", 8448, 10, 5)];
        (await ResolveAsync("example.org", lookups)).Should().Equal(
            new FederationTarget("primary.example.net", 8448, "delegated.example.net", "delegated.example.net"),
            new FederationTarget("backup.example.net", 8449, "delegated.example.net", "delegated.example.net"));

        var deprecated = new Lookups();
        deprecated.WellKnown["example.org"] = """{"m.server": "delegated.example.net"}""";
        deprecated.Srv["_matrix._tcp.delegated.example.net"] = [new SrvRecord("old.example.net", 9000, 0, 0)];
        (await ResolveAsync("example.org", deprecated)).Should().Equal(new FederationTarget("old.example.net", 9000, "delegated.example.net", "delegated.example.net"));
        deprecated.Asked.Should().Equal("well-known example.org", "srv _matrix-fed._tcp.delegated.example.net", "srv _matrix._tcp.delegated.example.net");

        var none = new Lookups();
        none.WellKnown["example.org"] = """{"m.server": "delegated.example.net"}""";
        (await ResolveAsync("example.org", none)).Should().Equal(new FederationTarget("delegated.example.net", 8448, "delegated.example.net", "delegated.example.net"));
    }

    [Theory]
    [InlineData("""{"m.server": "not a server name"}""")]
    [InlineData("""{"m.server": 8448}""")]
    [InlineData("""{"other": "x"}""")]
    [InlineData("""["m.server"]""")]
    [InlineData("""{"m.server": "example.net:99999"}""")]
    public async Task An_invalid_well_known_counts_as_an_error_and_steps_4_to_6_follow(string body)
    {
        var lookups = new Lookups();
        lookups.WellKnown["example.org"] = body;
        lookups.Srv["_matrix-fed._tcp.example.org"] = [new SrvRecord("fed.example.org", 8443, 0, 0)];
        (await ResolveAsync("example.org", lookups)).Should().Equal(new FederationTarget("fed.example.org", 8443, "example.org", "example.org"));
    }

    [Fact]
    public async Task Steps_5_and_6_the_deprecated_srv_then_port_8448_of_the_name_itself()
    {
        var deprecated = new Lookups();
        deprecated.Srv["_matrix._tcp.example.org"] = [new SrvRecord("legacy.example.org", 8000, 0, 0)];
        (await ResolveAsync("example.org", deprecated)).Should().Equal(new FederationTarget("legacy.example.org", 8000, "example.org", "example.org"));

        var lookups = new Lookups();
        (await ResolveAsync("example.org", lookups)).Should().Equal(new FederationTarget("example.org", 8448, "example.org", "example.org"));
        lookups.Asked.Should().Equal("well-known example.org", "srv _matrix-fed._tcp.example.org", "srv _matrix._tcp.example.org");
    }

    [Fact]
    public async Task An_srv_target_of_dot_says_the_service_is_not_there()
    {
        var lookups = new Lookups();
        lookups.Srv["_matrix-fed._tcp.example.org"] = [new SrvRecord(".", 0, 0, 0)];
        (await ResolveAsync("example.org", lookups)).Should().BeEmpty();
    }

    [Fact]
    public async Task A_digits_only_host_name_is_a_name_not_an_address()
    {
        var lookups = new Lookups();
        (await ResolveAsync("1234", lookups)).Should().Equal(new FederationTarget("1234", 8448, "1234", "1234"));
        lookups.Asked.Should().StartWith(["well-known 1234"]);
    }
}
