using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Inbound federation requests (server-server-api "Request Authentication") against a running server:
/// each is signed by a remote whose key the server fetches over HTTPS; missing, malformed, misaddressed
/// or wrong signatures and unknown keys are 401 M_UNAUTHORIZED; the endpoints the spec leaves unsigned
/// stay open; and the first signed endpoints (query/profile, query/directory) and the notary answer per spec.
/// </summary>
public sealed class XMatrixAuthenticationTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    private static async Task<(int Status, JsonObject Body)> SendAsync(HttpClient http, HttpMethod method, string uri, string? authorization,
        string? body = null)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject());
    }

    private static string Signed(FakeServerKeys origin, string method, string uri, JsonNode? content = null, string destination = FederationClusterFixture.OurServerName) =>
        XMatrixAuthorization.Sign(method, uri, origin.ServerName, destination, content, origin.Key).ToHeaderValue();

    private HttpClient Http() => new() { BaseAddress = fixture.BaseAddress };

    private async Task<string> RegisterAsync(string displayName)
    {
        using var client = new MatrixClient(fixture.BaseAddress);
        await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
        (await client.PutAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString(client.UserId)}/displayname",
            new JsonObject { ["displayname"] = displayName })).Status.Should().Be(200);
        return client.UserId;
    }

    [Fact]
    public async Task A_signed_profile_query_is_answered_after_the_origin_key_is_fetched_once()
    {
        var (remote, origin) = await fixture.NewRemote();
        var userId = await RegisterAsync("Alice Liddell");
        using var http = Http();
        var uri = $"/_matrix/federation/v1/query/profile?user_id={Uri.EscapeDataString(userId)}";

        var (status, body) = await SendAsync(http, HttpMethod.Get, uri, Signed(origin, "GET", uri));
        status.Should().Be(200, body.ToJsonString());
        body["displayname"]!.GetValue<string>().Should().Be("Alice Liddell");

        var fieldUri = uri + "&field=avatar_url";
        (status, body) = await SendAsync(http, HttpMethod.Get, fieldUri, Signed(origin, "GET", fieldUri));
        status.Should().Be(200);
        body.Should().BeEmpty("only the field asked for, and the user has no avatar");
        origin.Fetches(remote).Should().Be(1);
    }

    [Fact]
    public async Task Missing_malformed_misaddressed_and_wrong_signatures_are_401_M_UNAUTHORIZED()
    {
        var (_, origin) = await fixture.NewRemote();
        var userId = await RegisterAsync("Bob");
        using var http = Http();
        var uri = $"/_matrix/federation/v1/query/profile?user_id={Uri.EscapeDataString(userId)}";

        var cases = new (string What, string? Authorization, string? Body)[]
        {
            ("no header", null, null),
            ("another scheme", "Bearer abc", null),
            ("no signature", $"X-Matrix origin=\"{origin.ServerName}\",key=\"{origin.Key.KeyId}\"", null),
            ("signed for another URI", Signed(origin, "GET", uri + "&field=displayname"), null),
            ("signed for another method", Signed(origin, "POST", uri), null),
            ("signed for another server", Signed(origin, "GET", uri, destination: "other.example"), null),
            ("signed over a body not sent", Signed(origin, "GET", uri, new JsonObject { ["a"] = 1 }), null),
            ("a body not signed over", Signed(origin, "GET", uri), """{"a": 1}"""),
            ("a key the origin does not have", Signed(origin, "GET", uri).Replace(origin.Key.KeyId, "ed25519:unknown"), null),
            ("an origin that cannot be reached", Signed(new FakeServerKeys("127.0.0.1:1"), "GET", uri), null),
        };
        foreach (var (what, authorization, content) in cases)
        {
            var (status, body) = await SendAsync(http, HttpMethod.Get, uri, authorization, content);
            status.Should().Be(401, what);
            body["errcode"]!.GetValue<string>().Should().Be("M_UNAUTHORIZED", what);
        }
    }

    [Fact]
    public async Task The_endpoints_the_spec_leaves_unsigned_answer_without_a_signature()
    {
        using var http = Http();
        var (status, body) = await SendAsync(http, HttpMethod.Get, "/_matrix/federation/v1/version", null);
        status.Should().Be(200);
        body["server"]!["name"].Should().NotBeNull();

        (status, body) = await SendAsync(http, HttpMethod.Get, "/_matrix/federation/v1/openid/userinfo?access_token=nope", null);
        status.Should().Be(401);
        body["errcode"]!.GetValue<string>().Should().Be("M_UNKNOWN_TOKEN", "the token is checked, not a signature");
    }

    [Fact]
    public async Task Profile_queries_refuse_other_servers_users_and_unknown_users_as_Synapse_does()
    {
        var (_, origin) = await fixture.NewRemote();
        using var http = Http();
        foreach (var (userId, status, errcode) in new[]
        {
            ("@nobody:" + FederationClusterFixture.OurServerName, 404, "M_NOT_FOUND"),
            ("@someone:other.example", 400, "M_INVALID_PARAM"),
            ("not-a-user", 400, "M_INVALID_PARAM"),
        })
        {
            var uri = $"/_matrix/federation/v1/query/profile?user_id={Uri.EscapeDataString(userId)}";
            var (s, body) = await SendAsync(http, HttpMethod.Get, uri, Signed(origin, "GET", uri));
            s.Should().Be(status, userId);
            body["errcode"]!.GetValue<string>().Should().Be(errcode, userId);
        }
        var missing = "/_matrix/federation/v1/query/profile";
        var (missingStatus, missingBody) = await SendAsync(http, HttpMethod.Get, missing, Signed(origin, "GET", missing));
        missingStatus.Should().Be(400);
        missingBody["errcode"]!.GetValue<string>().Should().Be("M_MISSING_PARAM");
    }

    [Fact]
    public async Task A_directory_query_gives_the_room_and_its_servers_and_404_for_an_unknown_alias()
    {
        var (_, origin) = await fixture.NewRemote();
        using var alice = new MatrixClient(fixture.BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var localpart = "fedroom" + Guid.NewGuid().ToString("N")[..8];
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["room_alias_name"] = localpart });
        using var http = Http();

        var uri = $"/_matrix/federation/v1/query/directory?room_alias={Uri.EscapeDataString($"#{localpart}:{FederationClusterFixture.OurServerName}")}";
        var (status, body) = await SendAsync(http, HttpMethod.Get, uri, Signed(origin, "GET", uri));
        status.Should().Be(200, body.ToJsonString());
        body["room_id"]!.GetValue<string>().Should().Be(roomId);
        body["servers"]!.AsArray().Select(s => s!.GetValue<string>()).Should().Equal(FederationClusterFixture.OurServerName);

        var unknown = $"/_matrix/federation/v1/query/directory?room_alias={Uri.EscapeDataString($"#nothing:{FederationClusterFixture.OurServerName}")}";
        (status, body) = await SendAsync(http, HttpMethod.Get, unknown, Signed(origin, "GET", unknown));
        status.Should().Be(404);
        body["errcode"]!.GetValue<string>().Should().Be("M_NOT_FOUND");

        var foreign = $"/_matrix/federation/v1/query/directory?room_alias={Uri.EscapeDataString("#room:other.example")}";
        (status, _) = await SendAsync(http, HttpMethod.Get, foreign, Signed(origin, "GET", foreign));
        status.Should().Be(400);
    }

    [Fact]
    public async Task The_notary_answers_over_HTTP_with_the_remote_answer_signed_by_both_and_refuses_bad_queries()
    {
        var (_, remote) = await fixture.NewRemote();
        using var http = Http();
        using var response = await http.PostAsync("/_matrix/key/v2/query", new StringContent(
            new JsonObject { ["server_keys"] = new JsonObject { [remote.ServerName] = new JsonObject() } }.ToJsonString(), Encoding.UTF8, "application/json"));
        response.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["server_keys"]!.AsArray().Single()!.AsObject();
        JsonSigning.Verify(answer, remote.ServerName, remote.Key.KeyId, remote.Key.PublicKey).Should().BeTrue();
        var ourKeys = JsonNode.Parse(await http.GetStringAsync("/_matrix/key/v2/server"))!.AsObject();
        var (ourKeyId, ourKey) = ourKeys["verify_keys"]!.AsObject().Single();
        JsonSigning.Verify(answer, FederationClusterFixture.OurServerName, ourKeyId, UnpaddedBase64.Decode(ourKey!["key"]!.GetValue<string>()))
            .Should().BeTrue();

        var single = JsonNode.Parse(await http.GetStringAsync($"/_matrix/key/v2/query/{remote.ServerName}"))!["server_keys"]!.AsArray();
        single.Single()!["server_name"]!.GetValue<string>().Should().Be(remote.ServerName);

        var tooMany = new JsonObject();
        for (var i = 0; i <= 50; i++) tooMany[$"s{i}.example"] = new JsonObject();
        foreach (var (query, errcode) in new[]
        {
            ("""{"server_keys": []}""", "M_BAD_JSON"),
            ("""{"server_keys": {"a.example": {"ed25519:x": {"minimum_valid_until_ts": "soon"}}}}""", "M_BAD_JSON"),
            ("""{}""", "M_MISSING_PARAM"),
            ("""{"server_keys": {"not a server!": {}}}""", "M_INVALID_PARAM"),
            (new JsonObject { ["server_keys"] = tooMany }.ToJsonString(), "M_TOO_LARGE"),
        })
        {
            using var bad = await http.PostAsync("/_matrix/key/v2/query", new StringContent(query, Encoding.UTF8, "application/json"));
            ((int)bad.StatusCode).Should().Be(400, query);
            JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["errcode"]!.GetValue<string>().Should().Be(errcode, query);
        }
    }
}
