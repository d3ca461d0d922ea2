using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>A server with no <c>email</c> section: it validates no address, and says so with the spec's error.</summary>
public sealed class ThreePidWithoutEmailTests(NoEmailClusterFixture fixture) : IClassFixture<NoEmailClusterFixture>
{
    [Theory]
    [InlineData("/_matrix/client/v3/account/3pid/email/requestToken")]
    [InlineData("/_matrix/client/v3/register/email/requestToken")]
    [InlineData("/_matrix/client/v3/account/password/email/requestToken")]
    [InlineData("/_matrix/client/unstable/add_threepid/email/submit_token")]
    public async Task Email_endpoints_say_the_medium_is_not_supported(string path)
    {
        using var client = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        var (status, body) = await client.PostAsync(path, EmailFlow.Request(EmailFlow.NewEmail(), EmailFlow.NewSecret()));
        (status, body["errcode"]!.GetValue<string>()).Should().Be((400, "M_THREEPID_MEDIUM_NOT_SUPPORTED"));
    }

    [Fact]
    public async Task Registration_offers_only_the_dummy_stage_and_a_password_change_needs_a_token()
    {
        using var client = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        var (challenged, challenge) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject());
        challenged.Should().Be(401);
        challenge["flows"]!.AsArray().Select(f => f!["stages"]![0]!.GetValue<string>()).Should().Equal("m.login.dummy");
        var (status, body) = await client.PostAsync("/_matrix/client/v3/account/password", new JsonObject { ["new_password"] = "x" });
        (status, body["errcode"]!.GetValue<string>()).Should().Be((401, "M_MISSING_TOKEN"));
    }
}
