using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// JSON that System.Text.Json accepts only lazily, or that PostgreSQL cannot store, sent to every
/// endpoint that takes a body: each answers 400 with M_NOT_JSON or M_BAD_JSON at the edge (never a
/// 500 from deep inside a handler) and writes nothing. And the poisoned-event case: the deepest
/// content a client may send stays readable by every member through /sync and /messages.
/// </summary>
public sealed class HostileJsonTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>, IAsyncLifetime
{
    private static readonly string[] Tables = ["users", "devices", "access_tokens", "events", "current_state_events", "rooms", "event_txn_ids",
        "profiles", "room_aliases", "room_directory", "account_data", "user_filters", "device_keys", "one_time_keys", "to_device_messages",
        "receipts", "push_rules", "pushers", "uia_sessions"];

    private MatrixClient _user = null!;
    private string _roomId = "";

    public async Task InitializeAsync()
    {
        _user = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await _user.RegisterAsync("hostile" + Guid.NewGuid().ToString("N")[..8], "pw");
        _roomId = await _user.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
    }

    public Task DisposeAsync()
    {
        _user.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Each endpoint's body, with <c>@@</c> where the malformed value goes (an extra top-level key, so only the JSON itself is wrong).</summary>
    private static readonly (string Who, string Method, string Path, string Body)[] Endpoints =
    [
        ("user", "POST", "/_matrix/client/v3/createRoom", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}", """{"x": @@, "msgtype": "m.text", "body": "hi"}"""),
        ("user", "PUT", "/_matrix/client/v3/rooms/{room}/state/m.room.topic", """{"x": @@, "topic": "t"}"""),
        ("user", "PUT", "/_matrix/client/v3/rooms/{room}/state/m.custom/key", """{"x": @@}"""),
        ("user", "POST", "/_matrix/client/v3/rooms/{room}/invite", """{"x": @@, "user_id": "@nobody:test.local"}"""),
        ("user", "POST", "/_matrix/client/v3/join/{room}", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/user/{me}/account_data/m.hostile", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/user/{me}/rooms/{room}/account_data/m.hostile", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/profile/{me}/displayname", """{"x": @@, "displayname": "d"}"""),
        ("user", "POST", "/_matrix/client/v3/user/{me}/filter", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/pushrules/global/override/hostile", """{"x": @@, "actions": []}"""),
        ("user", "POST", "/_matrix/client/v3/keys/upload", """{"x": @@}"""),
        ("user", "POST", "/_matrix/client/v3/keys/query", """{"x": @@, "device_keys": {}}"""),
        ("user", "PUT", "/_matrix/client/v3/sendToDevice/m.hostile/{txn}", """{"x": @@, "messages": {}}"""),
        ("user", "PUT", "/_matrix/client/v3/rooms/{room}/typing/{me}", """{"x": @@, "typing": false}"""),
        ("user", "POST", "/_matrix/client/v3/rooms/{room}/read_markers", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/presence/{me}/status", """{"x": @@, "presence": "online"}"""),
        ("user", "POST", "/_matrix/client/v3/user_directory/search", """{"x": @@, "search_term": "a"}"""),
        ("user", "POST", "/_matrix/client/v3/pushers/set", """{"x": @@}"""),
        ("user", "PUT", "/_matrix/client/v3/directory/room/{alias}", """{"x": @@, "room_id": "{room}"}"""),
        ("none", "POST", "/_matrix/client/v3/login", """{"x": @@, "type": "m.login.password"}"""),
        ("none", "POST", "/_matrix/client/v3/register", """{"x": @@}"""),
    ];

    /// <summary>What goes in place of <c>@@</c>, and the errcode it must get.</summary>
    private static readonly (string Name, byte[] Value, string ErrCode)[] Malformations =
    [
        ("invalid UTF-8", [(byte)'"', (byte)'a', 0xFF, (byte)'b', (byte)'"'], "M_NOT_JSON"),
        ("overlong UTF-8 for '/'", [(byte)'"', 0xC0, 0xAF, (byte)'"'], "M_NOT_JSON"),
        ("truncated UTF-8 sequence", [(byte)'"', 0xE2, 0x82, (byte)'"'], "M_NOT_JSON"),
        ("lone high surrogate", Encoding.ASCII.GetBytes("\"\\ud800\""), "M_NOT_JSON"),
        ("lone low surrogate in a key", Encoding.ASCII.GetBytes("{\"\\udc00\": 1}"), "M_NOT_JSON"),
        ("duplicate key", Encoding.ASCII.GetBytes("1, \"x\": 2"), "M_BAD_JSON"),
        ("duplicate nested key", Encoding.ASCII.GetBytes("{\"k\": 1, \"k\": 1}"), "M_BAD_JSON"),
        ("NUL in a string", Encoding.ASCII.GetBytes("\"a\\u0000b\""), "M_BAD_JSON"),
        ("nesting deeper than 64 levels", Encoding.ASCII.GetBytes(new string('[', 64) + new string(']', 64)), "M_NOT_JSON"),
    ];

    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        for (var e = 0; e < Endpoints.Length; e++)
        {
            for (var m = 0; m < Malformations.Length; m++) data.Add(e, m);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Malformed_json_gets_400_with_a_matrix_error_and_writes_nothing(int endpoint, int malformation)
    {
        var (who, method, path, body) = Endpoints[endpoint];
        var (name, value, errCode) = Malformations[malformation];
        var bytes = Fill(body, value);
        using var anonymous = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        var client = who == "user" ? _user : anonymous;
        var before = await CountRowsAsync();

        var (status, response) = await client.SendBytesAsync(new HttpMethod(method), Resolve(path), bytes);

        (status, response["errcode"]?.GetValue<string>()).Should().Be((400, errCode), $"{name} to {method} {path}");
        response["error"]?.GetValue<string>().Should().NotBeNullOrEmpty();
        (await CountRowsAsync()).Should().Equal(before, $"{name} to {method} {path} must not write anything");
    }

    [Theory]
    [InlineData("/_matrix/client/v3/sync?filter=")]
    [InlineData("/_matrix/client/v3/rooms/{room}/messages?dir=b&filter=")]
    public async Task A_malformed_filter_parameter_gets_400(string path)
    {
        foreach (var (filter, errCode) in new[] { ("{\"a\":\"\\ud800\"}", "M_NOT_JSON"), ("{\"a\":1,\"a\":2}", "M_BAD_JSON"), ("{not json", "M_NOT_JSON") })
        {
            var (status, response) = await _user.GetAsync(Resolve(path) + Uri.EscapeDataString(filter));
            (status, response["errcode"]?.GetValue<string>()).Should().Be((400, errCode), filter);
        }
    }

    [Fact]
    public async Task The_template_bodies_are_valid_json_when_the_value_is_not_malformed()
    {
        // The cases above fail for the malformation alone: the same body with a plain value parses (whatever the endpoint then says).
        foreach (var (who, method, path, body) in Endpoints)
        {
            using var anonymous = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
            var (status, response) = await (who == "user" ? _user : anonymous).SendBytesAsync(new HttpMethod(method), Resolve(path), Fill(body, "1"u8.ToArray()));
            (status == 400 && response["errcode"]?.GetValue<string>() is "M_NOT_JSON").Should().BeFalse($"{method} {path} answered {response.ToJsonString()}");
            status.Should().BeLessThan(500, $"{method} {path}");
        }
    }

    [Fact]
    public async Task The_deepest_content_a_client_may_send_stays_readable_by_every_member()
    {
        using var member = new MatrixClient(fixture.Cluster.ApiHosts[^1].BaseAddress);
        await member.RegisterAsync("reader" + Guid.NewGuid().ToString("N")[..8], "pw");
        await member.JoinAsync(_roomId);
        var since = (await member.SyncAsync())["next_batch"]!.GetValue<string>();

        // A /send body is the event's content: 64 levels is the most any body may nest, one more is refused.
        var deepest = Nested(64);
        var (tooDeepStatus, tooDeep) = await _user.SendBytesAsync(HttpMethod.Put,
            $"/_matrix/client/v3/rooms/{_roomId}/send/m.deep/{Guid.NewGuid():N}", Encoding.UTF8.GetBytes(Nested(65).ToJsonString()));
        (tooDeepStatus, tooDeep["errcode"]?.GetValue<string>()).Should().Be((400, "M_NOT_JSON"));
        var eventId = await _user.SendMessageAsync(_roomId, deepest);
        var after = await _user.SendMessageAsync(_roomId, new JsonObject { ["msgtype"] = "m.text", ["body"] = "after the deep one" });

        var incremental = await member.SyncUntilAsync(since, body => Timeline(body).Any(e => e["event_id"]?.GetValue<string>() == after));
        Timeline(incremental).Select(e => e["event_id"]?.GetValue<string>()).Should().Contain(eventId);
        var initial = await member.GetAsync("/_matrix/client/v3/sync");
        initial.Status.Should().Be(200, initial.Body.ToJsonString());
        var messages = await member.GetAsync($"/_matrix/client/v3/rooms/{_roomId}/messages?dir=b&limit=10");
        messages.Status.Should().Be(200, messages.Body.ToJsonString());
        var single = await member.GetAsync($"/_matrix/client/v3/rooms/{_roomId}/event/{Uri.EscapeDataString(eventId)}");
        single.Status.Should().Be(200);
        Depth(single.Body["content"]).Should().Be(64);
        var context = await member.GetAsync($"/_matrix/client/v3/rooms/{_roomId}/context/{Uri.EscapeDataString(eventId)}");
        context.Status.Should().Be(200, context.Body.ToJsonString());
    }

    /// <summary>A message content (an object, level 1) whose field "n" nests down to <paramref name="depth"/> levels in all.</summary>
    private static JsonObject Nested(int depth)
    {
        JsonNode inner = new JsonObject();
        for (var level = depth; level > 2; level--) inner = new JsonObject { ["n"] = inner };
        return new JsonObject { ["msgtype"] = "m.text", ["body"] = $"{depth} levels", ["n"] = inner };
    }

    private static int Depth(JsonNode? node) => node switch
    {
        JsonObject o => 1 + o.Select(p => Depth(p.Value)).DefaultIfEmpty(0).Max(),
        JsonArray a => 1 + a.Select(Depth).DefaultIfEmpty(0).Max(),
        _ => 0,
    };

    private static IEnumerable<JsonNode> Timeline(JsonObject sync) =>
        sync["rooms"]?["join"]?.AsObject().SelectMany(r => r.Value?["timeline"]?["events"]?.AsArray() ?? []).OfType<JsonNode>() ?? [];

    private string Resolve(string path) => path
        .Replace("{room}", _roomId, StringComparison.Ordinal)
        .Replace("{me}", Uri.EscapeDataString(_user.UserId!), StringComparison.Ordinal)
        .Replace("{txn}", Guid.NewGuid().ToString("N"), StringComparison.Ordinal)
        .Replace("{alias}", Uri.EscapeDataString("#hostile" + Guid.NewGuid().ToString("N")[..8] + ":test.local"), StringComparison.Ordinal);

    private byte[] Fill(string template, byte[] value)
    {
        var parts = template.Replace("{room}", _roomId, StringComparison.Ordinal).Split("@@");
        return [.. Encoding.UTF8.GetBytes(parts[0]), .. value, .. Encoding.UTF8.GetBytes(parts[1])];
    }

    private Task<string[]> CountRowsAsync() => TableRows.FingerprintAsync(fixture.Cluster.ConnectionString, Tables);
}
