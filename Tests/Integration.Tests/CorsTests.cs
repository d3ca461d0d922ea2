using System.Net;
using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>The spec's "Web Browser Clients": CORS headers on every response and OPTIONS pre-flights that run nothing.</summary>
public sealed class CorsTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private HttpClient Http() => new() { BaseAddress = fixture.Cluster.ApiHosts[0].BaseAddress };

    private static void ShouldCarryCors(HttpResponseMessage response)
    {
        response.Headers.GetValues("Access-Control-Allow-Origin").Should().Equal("*");
        response.Headers.GetValues("Access-Control-Allow-Methods").Single().Should().Contain("GET").And.Contain("POST").And.Contain("PUT")
            .And.Contain("DELETE").And.Contain("OPTIONS");
        var allowed = response.Headers.GetValues("Access-Control-Allow-Headers").Single();
        allowed.Should().Contain("X-Requested-With").And.Contain("Content-Type").And.Contain("Authorization");
    }

    [Theory]
    [InlineData("/_matrix/client/v3/createRoom")]
    [InlineData("/_matrix/client/v3/login")]
    [InlineData("/_matrix/client/v3/rooms/!x:test.local/send/m.room.message/t1")]
    [InlineData("/_matrix/client/r0/sync")]
    [InlineData("/.well-known/matrix/client")]
    [InlineData("/_matrix/client/v1/media/config")]
    [InlineData("/_matrix/media/v3/upload")]
    public async Task A_preflight_gets_200_with_the_cors_headers_and_runs_nothing(string path)
    {
        using var http = Http();
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", "https://app.example");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");

        using var response = await http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK, "no token is needed and no endpoint logic runs");
        ShouldCarryCors(response);
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject().Should().BeEmpty();
    }

    [Fact]
    public async Task Successful_and_failed_responses_carry_the_cors_headers()
    {
        using var http = Http();
        using var versions = await http.GetAsync("/_matrix/client/versions");
        versions.StatusCode.Should().Be(HttpStatusCode.OK);
        ShouldCarryCors(versions);

        using var wellKnown = await http.GetAsync("/.well-known/matrix/client");
        wellKnown.StatusCode.Should().Be(HttpStatusCode.OK);
        ShouldCarryCors(wellKnown);

        using var unauthorized = await http.GetAsync("/_matrix/client/v3/account/whoami");
        unauthorized.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        ShouldCarryCors(unauthorized);

        using var login = await http.PostAsync("/_matrix/client/v3/login",
            new StringContent("""{"type":"m.login.password","identifier":{"type":"m.id.user","user":"nobody"},"password":"x"}""",
                System.Text.Encoding.UTF8, "application/json"));
        login.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        ShouldCarryCors(login);
    }
}
