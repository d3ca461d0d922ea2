using System.Text.Json.Nodes;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>The cluster's only silo is the one process that may reach other servers.</summary>
public sealed class OutboundThroughSiloFixture : FederationClusterFixture
{
    protected override void Configure(HomeserverTestClusterOptions options) => options.OutboundFederationRestrictedTo = ["silo1"];
}

/// <summary>Outbound federation is restricted to an instance that is not running.</summary>
public sealed class OutboundThroughNoneFixture : FederationClusterFixture
{
    protected override void Configure(HomeserverTestClusterOptions options) => options.OutboundFederationRestrictedTo = ["silo9"];
}

/// <summary>
/// Synapse's <c>outbound_federation_restricted_to</c> (workers documentation, "Restrict outbound federation traffic
/// to a specific set of workers"): an API host does not reach other servers itself; its requests leave through a
/// listed instance, and with none of them running they do not leave at all.
/// </summary>
public sealed class OutboundFederationRestrictionTests
{
    private static async Task<(int Status, JsonObject Body, RemoteHomeserver Remote)> AskRemoteProfileAsync(FederationClusterFixture fixture)
    {
        var (remote, keys) = await fixture.NewRemote();
        remote.Handle(keys.ServerName, "/_matrix/federation/v1/query/profile",
            FakeResidentRoom.Json(new JsonObject { ["displayname"] = "Far Away", ["avatar_url"] = "mxc://far/away" }));
        using var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var (status, body) = await alice.GetAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString($"@bob:{keys.ServerName}")}");
        return (status, body, remote);
    }

    private static int ProfileQueries(RemoteHomeserver remote) =>
        remote.Requests.Count(r => r.PathAndQuery.StartsWith("/_matrix/federation/v1/query/profile", StringComparison.Ordinal));

    public sealed class ThroughAListedSilo(OutboundThroughSiloFixture fixture) : IClassFixture<OutboundThroughSiloFixture>
    {
        [Fact]
        public async Task A_remote_profile_asked_on_an_api_host_is_fetched_through_the_listed_silo()
        {
            var (status, body, remote) = await AskRemoteProfileAsync(fixture);
            status.Should().Be(200, body.ToJsonString());
            body["displayname"]!.GetValue<string>().Should().Be("Far Away");
            ProfileQueries(remote).Should().Be(1);
        }
    }

    public sealed class ThroughNone(OutboundThroughNoneFixture fixture) : IClassFixture<OutboundThroughNoneFixture>
    {
        [Fact]
        public async Task With_no_listed_instance_running_nothing_leaves_and_the_client_gets_a_matrix_error()
        {
            var (status, body, remote) = await AskRemoteProfileAsync(fixture);
            status.Should().Be(502, body.ToJsonString());
            body["errcode"]!.GetValue<string>().Should().NotBeNullOrEmpty();
            ProfileQueries(remote).Should().Be(0, "the API host may not reach other servers itself");
        }
    }
}
