using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Client requests about another server's users, aliases and room directory: our server asks that server
/// (a <see cref="RemoteHomeserver"/>) with a request signed by our key, passes on its answer, and answers
/// 404 or 502 (as Synapse does) when it has nothing, cannot be reached or answers garbage, quickly.
/// </summary>
public sealed class ClientQueriesOverFederationTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    /// <summary>A refused connection on loopback: nothing listens on port 1.</summary>
    private const string Unreachable = "127.0.0.1:1";

    private static Func<HttpContext, Task> Answer(int status, string body) => async http =>
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body);
    };

    private async Task<MatrixClient> ClientAsync()
    {
        var client = new MatrixClient(fixture.BaseAddress);
        await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
        return client;
    }

    private static async Task<(int Status, JsonObject Body)> TimedAsync(Func<Task<(int, JsonObject)>> request)
    {
        var watch = Stopwatch.StartNew();
        var result = await request();
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15), "an unreachable or garbage-answering server must not hold the client");
        return result;
    }

    [Fact]
    public async Task A_remote_profile_is_asked_of_its_server_with_a_signed_request_and_relayed()
    {
        var (remote, keys) = await fixture.NewRemote();
        var server = keys.ServerName;
        var bob = $"@bob:{server}";
        remote.Handle(server, "/_matrix/federation/v1/query/profile", http =>
        {
            var field = http.Request.Query["field"].ToString();
            var profile = new JsonObject { ["extra"] = "dropped" };
            if (field is "" or "displayname") profile["displayname"] = "Bob Remote";
            if (field is "" or "avatar_url") profile["avatar_url"] = "mxc://remote/bob";
            return Answer(200, profile.ToJsonString())(http);
        });
        using var alice = await ClientAsync();

        var (status, body) = await alice.GetAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString(bob)}");
        status.Should().Be(200, body.ToJsonString());
        JsonNode.DeepEquals(body, new JsonObject { ["displayname"] = "Bob Remote", ["avatar_url"] = "mxc://remote/bob" }).Should()
            .BeTrue(body.ToJsonString());
        body.ContainsKey("extra").Should().BeFalse();
        var received = remote.Requests.Last(r => r.PathAndQuery.StartsWith("/_matrix/federation/v1/query/profile", StringComparison.Ordinal));
        received.Method.Should().Be("GET");
        received.PathAndQuery.Should().Be($"/_matrix/federation/v1/query/profile?user_id={Uri.EscapeDataString(bob)}");
        (await FederationRequests.SignedByUsAsync(fixture.BaseAddress, received, server)).Should().BeTrue("our server signs with the key it publishes");

        (status, body) = await alice.GetAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString(bob)}/displayname");
        status.Should().Be(200);
        body["displayname"]!.GetValue<string>().Should().Be("Bob Remote");
        remote.Requests.Last().PathAndQuery.Should().EndWith("&field=displayname");
        (status, body) = await alice.GetAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString(bob)}/avatar_url");
        status.Should().Be(200);
        body["avatar_url"]!.GetValue<string>().Should().Be("mxc://remote/bob");
        remote.Requests.Last().PathAndQuery.Should().EndWith("&field=avatar_url");
    }

    [Fact]
    public async Task A_remote_profile_that_is_missing_unreachable_or_garbage_is_404_or_502()
    {
        var (remote, keys) = await fixture.NewRemote();
        var server = keys.ServerName;
        using var alice = await ClientAsync();
        string Profile(string user, string suffix = "") => $"/_matrix/client/v3/profile/{Uri.EscapeDataString(user)}{suffix}";

        remote.Handle(server, "/_matrix/federation/v1/query/profile", Answer(404, """{"errcode": "M_NOT_FOUND", "error": "no"}"""));
        foreach (var suffix in new[] { "", "/displayname", "/avatar_url" })
        {
            var (status, body) = await alice.GetAsync(Profile($"@gone:{server}", suffix));
            status.Should().Be(404, suffix);
            body.ErrCode().Should().Be("M_NOT_FOUND", suffix);
        }

        remote.Handle(server, "/_matrix/federation/v1/query/profile", Answer(200, """{"avatar_url": "mxc://remote/x"}"""));
        var (s, b) = await alice.GetAsync(Profile($"@noname:{server}", "/displayname"));
        s.Should().Be(404, "the user has no display name");
        b.ErrCode().Should().Be("M_NOT_FOUND");

        foreach (var (what, answer) in new[] { ("not JSON", Answer(200, "<html>")), ("a JSON array", Answer(200, "[]")), ("a server error", Answer(500, "{}")),
            ("an unexpected 4xx", Answer(401, """{"errcode": "M_UNAUTHORIZED"}""")) })
        {
            remote.Handle(server, "/_matrix/federation/v1/query/profile", answer);
            foreach (var suffix in new[] { "", "/displayname" })
            {
                var (status, body) = await TimedAsync(() => alice.GetAsync(Profile($"@bob:{server}", suffix)));
                status.Should().Be(502, $"{what} {suffix}");
                body.ContainsKey("errcode").Should().BeTrue(what);
            }
        }

        foreach (var suffix in new[] { "", "/displayname", "/avatar_url" })
        {
            var (status, body) = await TimedAsync(() => alice.GetAsync(Profile($"@bob:{Unreachable}", suffix)));
            status.Should().Be(502, suffix);
            body.ErrCode().Should().Be("M_UNKNOWN");
        }
    }

    [Fact]
    public async Task A_remote_alias_is_resolved_by_its_server_and_cannot_be_created_or_deleted_here()
    {
        var (remote, keys) = await fixture.NewRemote();
        var server = keys.ServerName;
        var alias = $"#room:{server}";
        remote.Handle(server, "/_matrix/federation/v1/query/directory", Answer(200,
            new JsonObject { ["room_id"] = "!abc:" + server, ["servers"] = new JsonArray(server, "other.example") }.ToJsonString()));
        using var alice = await ClientAsync();
        var path = $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}";

        var (status, body) = await alice.GetAsync(path);
        status.Should().Be(200, body.ToJsonString());
        body["room_id"]!.GetValue<string>().Should().Be("!abc:" + server);
        body["servers"]!.AsArray().Select(n => n!.GetValue<string>()).Should().Equal(server, "other.example");
        var received = remote.Requests.Last(r => r.PathAndQuery.StartsWith("/_matrix/federation/v1/query/directory", StringComparison.Ordinal));
        received.PathAndQuery.Should().Be($"/_matrix/federation/v1/query/directory?room_alias={Uri.EscapeDataString(alias)}");
        (await FederationRequests.SignedByUsAsync(fixture.BaseAddress, received, server)).Should().BeTrue();

        (status, body) = await alice.PutAsync(path, new JsonObject { ["room_id"] = "!abc:" + server });
        status.Should().Be(400, "only the alias's own server can create it");
        (status, _) = await alice.DeleteAsync(path);
        status.Should().Be(400);

        foreach (var (what, answer, expected) in new[]
        {
            ("404", Answer(404, """{"errcode": "M_NOT_FOUND"}"""), 404),
            ("no room ID", Answer(200, """{"servers": []}"""), 404),
            ("not JSON", Answer(200, "garbage"), 502),
            ("a server error", Answer(502, "{}"), 502),
            ("a 403", Answer(403, """{"errcode": "M_FORBIDDEN"}"""), 502),
        })
        {
            remote.Handle(server, "/_matrix/federation/v1/query/directory", answer);
            (status, body) = await TimedAsync(() => alice.GetAsync(path));
            status.Should().Be(expected, what);
            body.ErrCode().Should().Be(expected == 404 ? "M_NOT_FOUND" : "M_UNKNOWN", what);
        }
        (status, body) = await TimedAsync(() => alice.GetAsync($"/_matrix/client/v3/directory/room/{Uri.EscapeDataString($"#room:{Unreachable}")}"));
        status.Should().Be(502);
        body.ErrCode().Should().Be("M_UNKNOWN");
    }

    [Fact]
    public async Task A_remote_room_directory_is_asked_with_the_clients_parameters_and_relayed()
    {
        var (remote, keys) = await fixture.NewRemote();
        var server = keys.ServerName;
        var list = new JsonObject
        {
            ["chunk"] = new JsonArray(new JsonObject { ["room_id"] = "!r:" + server, ["num_joined_members"] = 3, ["world_readable"] = true, ["guest_can_join"] = false }),
            ["next_batch"] = "remote-token",
            ["total_room_count_estimate"] = 7,
        };
        remote.Handle(server, "/_matrix/federation/v1/publicRooms", Answer(200, list.ToJsonString()));
        using var alice = await ClientAsync();

        var (status, body) = await alice.GetAsync($"/_matrix/client/v3/publicRooms?server={server}&limit=5&since=abc");
        status.Should().Be(200, body.ToJsonString());
        body.ToJsonString().Should().Be(list.ToJsonString());
        var received = remote.Requests.Last(r => r.PathAndQuery.StartsWith("/_matrix/federation/v1/publicRooms", StringComparison.Ordinal));
        received.Method.Should().Be("GET");
        received.PathAndQuery.Should().Be("/_matrix/federation/v1/publicRooms?limit=5&since=abc");
        (await FederationRequests.SignedByUsAsync(fixture.BaseAddress, received, server)).Should().BeTrue();

        var filter = new JsonObject
        {
            ["limit"] = 2, ["since"] = "t", ["filter"] = new JsonObject { ["generic_search_term"] = "cats" }, ["include_all_networks"] = true,
        };
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/publicRooms?server={server}", filter);
        status.Should().Be(200);
        body["total_room_count_estimate"]!.GetValue<int>().Should().Be(7);
        received = remote.Requests.Last(r => r.PathAndQuery.StartsWith("/_matrix/federation/v1/publicRooms", StringComparison.Ordinal));
        received.Method.Should().Be("POST");
        received.PathAndQuery.Should().Be("/_matrix/federation/v1/publicRooms");
        JsonNode.DeepEquals(JsonNode.Parse(received.Body), filter).Should().BeTrue("the body is passed on as the client sent it");
        (await FederationRequests.SignedByUsAsync(fixture.BaseAddress, received, server)).Should().BeTrue();

        // Synapse asks for an access token before it asks another server on a client's behalf.
        using var anonymous = new MatrixClient(fixture.BaseAddress);
        (status, body) = await anonymous.GetAsync($"/_matrix/client/v3/publicRooms?server={server}");
        status.Should().Be(401);
        body.ErrCode().Should().Be("M_MISSING_TOKEN");
        (status, body) = await alice.GetAsync("/_matrix/client/v3/publicRooms?server=not%20a%20server");
        status.Should().Be(400);
        body.ErrCode().Should().Be("M_INVALID_PARAM");
        (status, body) = await alice.GetAsync($"/_matrix/client/v3/publicRooms?server={FederationClusterFixture.OurServerName}");
        status.Should().Be(200, "this server's own name is its own list");
        body["chunk"].Should().BeOfType<JsonArray>();
    }

    [Fact]
    public async Task A_remote_room_directory_that_refuses_fails_or_cannot_be_reached_gives_a_Matrix_error()
    {
        var (remote, keys) = await fixture.NewRemote();
        var server = keys.ServerName;
        using var alice = await ClientAsync();

        foreach (var (what, answer, expected, errcode) in new[]
        {
            ("closed to federation", Answer(403, """{"errcode": "M_FORBIDDEN", "error": "Federation denied"}"""), 403, "M_FORBIDDEN"),
            ("not JSON", Answer(200, "nope"), 502, "M_UNKNOWN"),
            ("no chunk", Answer(200, "{}"), 502, "M_UNKNOWN"),
            ("a server error", Answer(500, "{}"), 502, "M_UNKNOWN"),
        })
        {
            remote.Handle(server, "/_matrix/federation/v1/publicRooms", answer);
            var (status, body) = await TimedAsync(() => alice.GetAsync($"/_matrix/client/v3/publicRooms?server={server}"));
            status.Should().Be(expected, what);
            body.ErrCode().Should().Be(errcode, what);
            (status, body) = await TimedAsync(() => alice.PostAsync($"/_matrix/client/v3/publicRooms?server={server}", new JsonObject()));
            status.Should().Be(expected, what);
            body.ErrCode().Should().Be(errcode, what);
        }
        var (s, b) = await TimedAsync(() => alice.GetAsync($"/_matrix/client/v3/publicRooms?server={Unreachable}"));
        s.Should().Be(502);
        b.ErrCode().Should().Be("M_UNKNOWN");
        (s, b) = await TimedAsync(() => alice.PostAsync($"/_matrix/client/v3/publicRooms?server={Unreachable}", new JsonObject()));
        s.Should().Be(502);
        b.ErrCode().Should().Be("M_UNKNOWN");
    }
}
