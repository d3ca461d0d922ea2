using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Bad requests, each with the status and errcode the spec asks for, and proof that none of them
/// wrote anything: the row counts of every table a request could touch are the same afterwards.
/// </summary>
public sealed class BadInputTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>, IAsyncLifetime
{
    private static readonly string[] Tables = ["users", "devices", "access_tokens", "events", "current_state_events", "rooms", "room_writers",
        "event_txn_ids", "profiles", "room_aliases", "room_directory"];
    private MatrixClient _admin = null!;
    private MatrixClient _member = null!;
    private string _roomId = "";

    public async Task InitializeAsync()
    {
        _admin = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        _member = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await _admin.RegisterAsync("admin" + Guid.NewGuid().ToString("N")[..8], "pw");
        await _member.RegisterAsync("member" + Guid.NewGuid().ToString("N")[..8], "pw");
        _roomId = (await _admin.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        await _member.PostAsync($"/_matrix/client/v3/rooms/{_roomId}/join", new JsonObject());
    }

    public Task DisposeAsync()
    {
        _admin.Dispose();
        _member.Dispose();
        return Task.CompletedTask;
    }

    public static TheoryData<string, string, string, string?, string, int, string> Cases => new()
    {
        // name, who (admin|member|none|bad), method, body, path ({room} is replaced), status, errcode
        { "malformed JSON", "admin", "POST", "{not json", "/_matrix/client/v3/createRoom", 400, "M_NOT_JSON" },
        { "JSON that is not an object", "admin", "POST", "[1, 2]", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "wrong type", "admin", "POST", """{"visibility": 5}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "unknown visibility", "admin", "POST", """{"visibility": "secret"}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "unknown room version", "admin", "POST", """{"room_version": "99"}""", "/_matrix/client/v3/createRoom", 400, "M_UNSUPPORTED_ROOM_VERSION" },
        { "invalid user ID in invite", "admin", "POST", """{"invite": ["bob"]}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "override that locks the creator out", "admin", "POST", """{"power_level_content_override": {"state_default": 200}}""", "/_matrix/client/v3/createRoom", 403, "M_FORBIDDEN" },
        { "float in power level override", "admin", "POST", """{"power_level_content_override": {"ban": 50.5}}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "initial_state sets power levels", "admin", "POST", """{"initial_state": [{"type": "m.room.power_levels", "content": {}}]}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "missing token", "none", "POST", "{}", "/_matrix/client/v3/createRoom", 401, "M_MISSING_TOKEN" },
        { "unknown token", "bad", "POST", "{}", "/_matrix/client/v3/createRoom", 401, "M_UNKNOWN_TOKEN" },
        { "unknown room", "admin", "PUT", """{"body": "x"}""", "/_matrix/client/v3/rooms/!nowhere:test.local/send/m.room.message/t1", 404, "M_NOT_FOUND" },
        { "invalid room ID", "admin", "PUT", """{"body": "x"}""", "/_matrix/client/v3/rooms/nowhere/send/m.room.message/t2", 400, "M_INVALID_PARAM" },
        { "forbidden state change", "member", "PUT", """{"users": {}}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 403, "M_FORBIDDEN" },
        { "forbidden kick", "member", "POST", """{"user_id": "@nobody:test.local"}""", "/_matrix/client/v3/rooms/{room}/ban", 403, "M_FORBIDDEN" },
        { "oversize event", "admin", "PUT", "{\"body\": \"" + new string('x', 70_000) + "\"}", "/_matrix/client/v3/rooms/{room}/send/m.room.message/t3", 413, "M_TOO_LARGE" },
        { "invalid user ID to invite", "admin", "POST", """{"user_id": "bob"}""", "/_matrix/client/v3/rooms/{room}/invite", 400, "M_INVALID_PARAM" },
        { "missing user ID to invite", "admin", "POST", "{}", "/_matrix/client/v3/rooms/{room}/invite", 400, "M_MISSING_PARAM" },
        { "float in event content", "admin", "PUT", """{"body": "x", "n": 1.5}""", "/_matrix/client/v3/rooms/{room}/send/m.room.message/t5", 400, "M_BAD_JSON" },
        { "send body not an object", "admin", "PUT", "\"text\"", "/_matrix/client/v3/rooms/{room}/send/m.room.message/t4", 400, "M_BAD_JSON" },
        { "bad pagination direction", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?dir=x", 400, "M_INVALID_PARAM" },
        { "bad pagination token", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?from=abc", 400, "M_INVALID_PARAM" },
        { "unknown endpoint", "admin", "GET", null, "/_matrix/client/v3/no/such/thing", 404, "M_UNRECOGNIZED" },
        { "wrong method", "admin", "DELETE", null, "/_matrix/client/v3/createRoom", 405, "M_UNRECOGNIZED" },
        { "login without identifier", "none", "POST", """{"type": "m.login.password", "password": "x"}""", "/_matrix/client/v3/login", 400, "M_MISSING_PARAM" },
        { "unknown login type", "none", "POST", """{"type": "m.login.magic"}""", "/_matrix/client/v3/login", 400, "M_UNKNOWN" },
        { "password of the wrong type", "none", "POST", """{"username": "newbie", "password": 5}""", "/_matrix/client/v3/register", 400, "M_BAD_JSON" },
        { "invalid username", "none", "POST", """{"username": "Bad Name", "password": "x"}""", "/_matrix/client/v3/register", 400, "M_INVALID_USERNAME" },
        { "guest registration", "none", "POST", "{}", "/_matrix/client/v3/register?kind=guest", 403, "M_GUEST_ACCESS_FORBIDDEN" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_requests_get_their_errcode_and_change_nothing(string name, string who, string method, string? body, string path,
        int status, string errCode)
    {
        using var anonymous = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress) { AccessToken = who == "bad" ? "syt_bogus" : null };
        var client = who switch { "admin" => _admin, "member" => _member, _ => anonymous };
        var before = await CountRowsAsync();

        var (actualStatus, response) = await client.SendAsync(new HttpMethod(method), path.Replace("{room}", _roomId), body);

        (actualStatus, response["errcode"]?.GetValue<string>()).Should().Be((status, errCode), name);
        response["error"]?.GetValue<string>().Should().NotBeNullOrEmpty();
        (await CountRowsAsync()).Should().Equal(before, $"{name} must not write anything");
    }

    private Task<long[]> CountRowsAsync() => TableRows.CountAsync(fixture.Cluster.ConnectionString, Tables);
}
