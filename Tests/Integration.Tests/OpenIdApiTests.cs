using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// OpenID (client-server openid.yaml, server-server openid.yaml): POST /user/{userId}/openid/request_token
/// and the third party's GET /_matrix/federation/v1/openid/userinfo.
/// </summary>
public sealed class OpenIdApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private Task<MatrixClient> NewUserAsync() => MatrixClient.RegisteredAsync(fixture.Cluster.ApiHosts[0].BaseAddress);

    [Fact]
    public async Task A_token_tells_a_third_party_whose_it_is()
    {
        using var alice = await NewUserAsync();
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(alice.UserId)}/openid/request_token", new JsonObject());
        status.Should().Be(200, body.ToJsonString());
        body["token_type"]!.GetValue<string>().Should().Be("Bearer");
        body["matrix_server_name"]!.GetValue<string>().Should().Be(alice.UserId.Split(':', 2)[1]);
        body["expires_in"]!.GetValue<long>().Should().Be(3600);
        var token = body["access_token"]!.GetValue<string>();
        token.Should().NotBe(alice.AccessToken);

        using var thirdParty = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        var info = await thirdParty.GetAsync($"/_matrix/federation/v1/openid/userinfo?access_token={Uri.EscapeDataString(token)}");
        info.Status.Should().Be(200, info.Body.ToJsonString());
        info.Body["sub"]!.GetValue<string>().Should().Be(alice.UserId);

        // The OpenID token is no access token, and an access token is no OpenID token.
        using var impostor = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress) { AccessToken = token };
        (await impostor.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401);
        var wrong = await thirdParty.GetAsync($"/_matrix/federation/v1/openid/userinfo?access_token={alice.AccessToken}");
        (wrong.Status, wrong.Body["errcode"]!.GetValue<string>()).Should().Be((401, "M_UNKNOWN_TOKEN"));
        var missing = await thirdParty.GetAsync("/_matrix/federation/v1/openid/userinfo");
        (missing.Status, missing.Body["errcode"]!.GetValue<string>()).Should().Be((401, "M_UNKNOWN_TOKEN"));
    }

    [Fact]
    public async Task Tokens_are_only_for_oneself_and_die_with_the_account()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var other = await alice.PostAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(bob.UserId)}/openid/request_token", new JsonObject());
        (other.Status, other.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        using var anonymous = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        (await anonymous.PostAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(bob.UserId)}/openid/request_token", new JsonObject())).Status.Should().Be(401);
        var (bad, badBody) = await bob.SendAsync(HttpMethod.Post, $"/_matrix/client/v3/user/{Uri.EscapeDataString(bob.UserId)}/openid/request_token", "[1]");
        (bad, badBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_BAD_JSON"), "the body must be a JSON object");

        var token = (await bob.PostAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(bob.UserId)}/openid/request_token", new JsonObject())).Body["access_token"]!.GetValue<string>();
        var session = (await bob.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject())).Body["session"]!.GetValue<string>();
        (await bob.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.password", ["session"] = session, ["password"] = "pw",
                ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = bob.UserId },
            },
        })).Status.Should().Be(200);
        var info = await anonymous.GetAsync($"/_matrix/federation/v1/openid/userinfo?access_token={Uri.EscapeDataString(token)}");
        (info.Status, info.Body["errcode"]!.GetValue<string>()).Should().Be((401, "M_UNKNOWN_TOKEN"));
    }
}
