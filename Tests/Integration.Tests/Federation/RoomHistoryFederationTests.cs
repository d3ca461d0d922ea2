using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A server in a room reads its history here (server-server-api "Backfilling and retrieving missing
/// events"): backfill walks prev_events back from the given events, newest first, within its limit;
/// get_missing_events answers what lies between latest and earliest, oldest first; servers with no
/// member are refused, unknown rooms are not found, malformed parameters are bad requests.
/// </summary>
public sealed class RoomHistoryFederationTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    private static readonly RoomVersion Version = RoomVersions.Default;

    private sealed record Remote(FakeServerKeys Keys, string Bob);

    private async Task<(MatrixClient Alice, string RoomId, Remote Remote)> RoomWithRemoteServerAsync()
    {
        var (_, keys) = await fixture.NewRemote();
        var alice = new MatrixClient(fixture.BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        return (alice, roomId, new Remote(keys, $"@bob:{keys.ServerName}"));
    }

    private async Task<(int Status, JsonNode? Body)> SignedAsync(Remote remote, HttpMethod method, string uri, JsonNode? content = null)
    {
        using var http = new HttpClient { BaseAddress = fixture.BaseAddress };
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("Authorization",
            XMatrixAuthorization.Sign(method.Method, uri, remote.Keys.ServerName, FederationClusterFixture.OurServerName, content, remote.Keys.Key).ToHeaderValue());
        if (content is not null) request.Content = new StringContent(content.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Hashes and signs an event as the remote server, returning its ID.</summary>
    private static string Finish(Remote remote, JsonObject pdu)
    {
        ContentHash.Add(pdu);
        EventSigning.SignEvent(pdu, Version, remote.Keys.ServerName, remote.Keys.Key);
        return EventIds.Compute(pdu, Version).ToString();
    }

    /// <summary>The join's ID, with the join event carrying in <c>unsigned.auth</c> the auth events a message of the joined user cites.</summary>
    private async Task<(string JoinId, JsonObject Join)> JoinAsync(Remote remote, string roomId)
    {
        var (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(remote.Bob)}?ver=9&ver={Version.Id}");
        status.Should().Be(200, body?.ToJsonString());
        body!["room_version"]!.GetValue<string>().Should().Be(Version.Id);
        var join = body["event"]!.AsObject();
        var joinId = Finish(remote, join);
        (status, body) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v2/send_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(joinId)}", join);
        status.Should().Be(200, body?.ToJsonString());
        var messageAuth = body!["state"]!.AsArray().Select(e => e!.AsObject())
            .Where(e => e["type"]!.GetValue<string>() is "m.room.create" or "m.room.power_levels")
            .Select(e => EventIds.Compute(e, Version).ToString()).Append(joinId).ToList();
        var kept = join.DeepClone().AsObject();
        kept["unsigned"] = new JsonObject { ["auth"] = new JsonArray([.. messageAuth.Select(a => JsonValue.Create(a))]) };
        return (joinId, kept);
    }

    private static JsonObject Message(string roomId, string sender, string prev, JsonObject join, string body, long depth) => new()
    {
        ["room_id"] = roomId,
        ["sender"] = sender,
        ["type"] = "m.room.message",
        ["content"] = new JsonObject { ["msgtype"] = "m.text", ["body"] = body },
        ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        ["depth"] = depth,
        ["prev_events"] = new JsonArray(prev),
        // Create, power levels and the sender's join.
        ["auth_events"] = join["unsigned"]!["auth"]!.DeepClone(),
    };

    private async Task<JsonObject> SendAsync(Remote remote, params JsonObject[] pdus)
    {
        var txn = new JsonObject
        {
            ["origin"] = remote.Keys.ServerName,
            ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["pdus"] = new JsonArray([.. pdus.Select(p => p.DeepClone())]),
        };
        var (status, body) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v1/send/{Guid.NewGuid():N}", txn);
        status.Should().Be(200, body?.ToJsonString());
        return body!["pdus"]!.AsObject();
    }

    private async Task<(string RoomId, Remote Remote, string JoinId, string[] Messages)> HistoryAsync()
    {
        var (_, roomId, remote) = await RoomWithRemoteServerAsync();
        var (joinId, join) = await JoinAsync(remote, roomId);
        var depth = join["depth"]!.GetValue<long>();
        var prev = joinId;
        var messages = new List<string>();
        foreach (var text in new[] { "one", "two", "three" })
        {
            var message = Message(roomId, remote.Bob, prev, join, text, ++depth);
            prev = Finish(remote, message);
            (await SendAsync(remote, message))[prev]!.AsObject().Should().BeEmpty();
            messages.Add(prev);
        }
        return (roomId, remote, joinId, [.. messages]);
    }

    private static IEnumerable<string> IdsOf(JsonNode? pdus) => pdus!.AsArray().Select(p => EventIds.Compute(p!.AsObject(), Version).ToString());

    [Fact]
    public async Task Backfill_walks_back_from_the_given_events_newest_first_within_the_limit()
    {
        var (roomId, remote, joinId, messages) = await HistoryAsync();
        var room = Uri.EscapeDataString(roomId);
        var (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/backfill/{room}?v={Uri.EscapeDataString(messages[2])}&limit=2");
        status.Should().Be(200, body?.ToJsonString());
        body!["origin"]!.GetValue<string>().Should().Be(FederationClusterFixture.OurServerName);
        body["origin_server_ts"]!.GetValue<long>().Should().BePositive();
        IdsOf(body["pdus"]).Should().Equal(messages[2], messages[1]);

        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/backfill/{room}?v={Uri.EscapeDataString(messages[2])}&limit=1000");
        status.Should().Be(200);
        var all = IdsOf(body!["pdus"]).ToList();
        all.Take(4).Should().Equal(messages[2], messages[1], messages[0], joinId);
        body["pdus"]!.AsArray().Last()!["type"]!.GetValue<string>().Should().Be("m.room.create");

        (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/backfill/{room}?limit=5");
        status.Should().Be(400, body?.ToJsonString());
        (status, _) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/backfill/{room}?v={Uri.EscapeDataString(joinId)}&limit=x");
        status.Should().Be(400);
        (status, _) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/backfill/{Uri.EscapeDataString("!nowhere:" + FederationClusterFixture.OurServerName)}?v={Uri.EscapeDataString(joinId)}&limit=5");
        status.Should().Be(404);

        var (_, strangerKeys) = await fixture.NewRemote();
        (status, _) = await SignedAsync(new Remote(strangerKeys, $"@eve:{strangerKeys.ServerName}"), HttpMethod.Get,
            $"/_matrix/federation/v1/backfill/{room}?v={Uri.EscapeDataString(joinId)}&limit=5");
        status.Should().Be(403, "a server with no member in the room reads nothing of it");
    }

    [Fact]
    public async Task Get_missing_events_answers_what_lies_between_oldest_first()
    {
        var (roomId, remote, joinId, messages) = await HistoryAsync();
        var uri = $"/_matrix/federation/v1/get_missing_events/{Uri.EscapeDataString(roomId)}";
        var (status, body) = await SignedAsync(remote, HttpMethod.Post, uri, new JsonObject
        {
            ["earliest_events"] = new JsonArray(joinId),
            ["latest_events"] = new JsonArray(messages[2]),
        });
        status.Should().Be(200, body?.ToJsonString());
        IdsOf(body!["events"]).Should().Equal(messages[0], messages[1]);

        (status, body) = await SignedAsync(remote, HttpMethod.Post, uri, new JsonObject
        {
            ["earliest_events"] = new JsonArray(joinId),
            ["latest_events"] = new JsonArray(messages[2]),
            ["limit"] = 1,
        });
        status.Should().Be(200);
        IdsOf(body!["events"]).Should().Equal(messages[1]);

        (status, _) = await SignedAsync(remote, HttpMethod.Post, uri, new JsonObject { ["latest_events"] = new JsonArray(messages[2]) });
        status.Should().Be(400);
        (status, _) = await SignedAsync(remote, HttpMethod.Post, uri, new JsonObject
        {
            ["earliest_events"] = new JsonArray(), ["latest_events"] = new JsonArray(messages[2]), ["limit"] = "ten",
        });
        status.Should().Be(400);
    }

    [Fact]
    public async Task Timestamp_to_event_finds_the_closest_event_in_either_direction()
    {
        var (roomId, remote, _, messages) = await HistoryAsync();
        var uri = $"/_matrix/federation/v1/timestamp_to_event/{Uri.EscapeDataString(roomId)}";
        var (status, body) = await SignedAsync(remote, HttpMethod.Get, $"{uri}?ts={DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds()}&dir=b");
        status.Should().Be(200, body?.ToJsonString());
        body!["event_id"]!.GetValue<string>().Should().Be(messages[2]);
        body["origin_server_ts"]!.GetValue<long>().Should().BePositive();
        (status, body) = await SignedAsync(remote, HttpMethod.Get, $"{uri}?ts={DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds()}&dir=f");
        status.Should().Be(404, body?.ToJsonString());
        body!["errcode"]!.GetValue<string>().Should().Be("M_NOT_FOUND");
        (status, _) = await SignedAsync(remote, HttpMethod.Get, $"{uri}?ts=1&dir=x");
        status.Should().Be(400);
        (status, _) = await SignedAsync(remote, HttpMethod.Get, $"{uri}?dir=f");
        status.Should().Be(400);
    }
}
