using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Spec "History visibility" and the room read endpoints (GET /state, /members, /joined_members,
/// /messages, /event, /context, /aliases) for users who left (state and history up to their leave),
/// for strangers to world_readable rooms, and the sync timeline of rooms joined late.
/// </summary>
public sealed class VisibilityApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    private static async Task<string> SendAsync(MatrixClient client, string roomId, string body) =>
        (await client.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{Guid.NewGuid():N}",
            new JsonObject { ["msgtype"] = "m.text", ["body"] = body }.ToJsonString())).Body["event_id"]!.GetValue<string>();

    private static async Task SetTopicAsync(MatrixClient client, string roomId, string topic) =>
        (await client.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/state/m.room.topic",
            new JsonObject { ["topic"] = topic }.ToJsonString())).Status.Should().Be(200);

    private static async Task<string> CreateRoomAsync(MatrixClient client, string visibility, string preset = "public_chat") =>
        (await client.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["preset"] = preset,
            ["initial_state"] = new JsonArray(new JsonObject
            {
                ["type"] = "m.room.history_visibility", ["content"] = new JsonObject { ["history_visibility"] = visibility },
            }),
        })).Body["room_id"]!.GetValue<string>();

    private static List<string> Ids(JsonNode? events) => events!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).ToList();

    [Fact]
    public async Task A_user_who_left_reads_the_state_and_history_up_to_their_leave()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await CreateRoomAsync(alice, "shared");
        await bob.JoinAsync(roomId);
        await SetTopicAsync(alice, roomId, "before");
        var seen = await SendAsync(alice, roomId, "while bob was there");
        await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/leave", new JsonObject());
        await SetTopicAsync(alice, roomId, "after");
        var unseen = await SendAsync(alice, roomId, "after bob left");
        await carol.JoinAsync(roomId);
        var rooms = $"/_matrix/client/v3/rooms/{roomId}";

        var state = await bob.GetAsync($"{rooms}/state");
        state.Status.Should().Be(200);
        var stateEvents = state.Body["_raw"] is null ? null : JsonNode.Parse(state.Body["_raw"]!.GetValue<string>())!.AsArray();
        stateEvents!.Single(e => e!["type"]!.GetValue<string>() == "m.room.topic")!["content"]!["topic"]!.GetValue<string>().Should().Be("before");
        stateEvents!.Single(e => e!["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == bob.UserId)!
            ["content"]!["membership"]!.GetValue<string>().Should().Be("leave");
        stateEvents.Should().NotContain(e => e!["state_key"]!.GetValue<string>() == carol.UserId);

        (await bob.GetAsync($"{rooms}/state/m.room.topic")).Body["topic"]!.GetValue<string>().Should().Be("before");
        var asEvent = await bob.GetAsync($"{rooms}/state/m.room.topic/?format=event");
        asEvent.Status.Should().Be(200, asEvent.Body.ToJsonString());
        (asEvent.Body["type"]!.GetValue<string>(), asEvent.Body["content"]!["topic"]!.GetValue<string>()).Should().Be(("m.room.topic", "before"));
        asEvent.Body["event_id"].Should().NotBeNull();
        (await bob.GetAsync($"{rooms}/state/m.room.topic?format=bogus")).Status.Should().Be(400);

        var members = (await bob.GetAsync($"{rooms}/members")).Body["chunk"]!.AsArray();
        members.Select(m => m!["state_key"]!.GetValue<string>()).Should().BeEquivalentTo([alice.UserId, bob.UserId]);
        (await bob.GetAsync($"{rooms}/members?membership=leave")).Body["chunk"]!.AsArray().Should().ContainSingle();
        (await bob.GetAsync($"{rooms}/members?membership=nonsense")).Status.Should().Be(400);
        var joinedMembers = await bob.GetAsync($"{rooms}/joined_members");
        (joinedMembers.Status, joinedMembers.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));

        var history = Ids((await bob.GetAsync($"{rooms}/messages?dir=b&limit=50")).Body["chunk"]);
        history.Should().Contain(seen).And.NotContain(unseen);
        (await bob.GetAsync($"{rooms}/event/{seen}")).Status.Should().Be(200);
        (await bob.GetAsync($"{rooms}/event/{unseen}")).Status.Should().Be(404);

        var context = await bob.GetAsync($"{rooms}/context/{seen}?limit=10");
        context.Status.Should().Be(200);
        Ids(context.Body["events_after"]).Should().NotContain(unseen);
        context.Body["state"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "m.room.topic")!["content"]!["topic"]!
            .GetValue<string>().Should().Be("before", "the state at the last event returned, not the current state");
        (await bob.GetAsync($"{rooms}/context/{unseen}")).Status.Should().Be(404);

        // Once forgotten, nothing.
        (await bob.PostAsync($"{rooms}/forget", new JsonObject())).Status.Should().Be(200);
        (await bob.GetAsync($"{rooms}/state")).Status.Should().Be(403);
        (await bob.GetAsync($"{rooms}/members")).Status.Should().Be(403);
        (await bob.GetAsync($"{rooms}/event/{seen}")).Status.Should().Be(404);
    }

    [Theory]
    [InlineData("world_readable", true)]
    [InlineData("shared", false)]
    public async Task Strangers_read_a_world_readable_room_and_nothing_else(string visibility, bool readable)
    {
        using var alice = NewClient();
        using var stranger = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await stranger.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await CreateRoomAsync(alice, visibility);
        await SetTopicAsync(alice, roomId, "the topic");
        var message = await SendAsync(alice, roomId, "hello");
        var rooms = $"/_matrix/client/v3/rooms/{roomId}";
        var expected = readable ? 200 : 403;

        (await stranger.GetAsync($"{rooms}/state")).Status.Should().Be(expected);
        var topic = await stranger.GetAsync($"{rooms}/state/m.room.topic");
        topic.Status.Should().Be(expected);
        if (readable) topic.Body["topic"]!.GetValue<string>().Should().Be("the topic");
        (await stranger.GetAsync($"{rooms}/members")).Status.Should().Be(expected);
        (await stranger.GetAsync($"{rooms}/joined_members")).Status.Should().Be(expected);
        (await stranger.GetAsync($"{rooms}/aliases")).Status.Should().Be(expected);
        (await stranger.GetAsync($"{rooms}/messages?dir=b")).Status.Should().Be(expected);
        // An event the user may not see is not found: its existence does not leak (spec: 404).
        (await stranger.GetAsync($"{rooms}/event/{message}")).Status.Should().Be(readable ? 200 : 404);
        (await stranger.GetAsync($"{rooms}/context/{message}")).Status.Should().Be(readable ? 200 : 404);
        (await stranger.GetAsync($"/_matrix/client/v1/rooms/{roomId}/relations/{message}")).Status.Should().Be(readable ? 200 : 404);
    }

    [Theory]
    [InlineData("joined", false)]
    [InlineData("invited", false)]
    [InlineData("shared", true)]
    public async Task The_sync_timeline_of_a_late_joiner_honours_history_visibility(string visibility, bool seesEarlier)
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await CreateRoomAsync(alice, visibility);
        var earlier = await SendAsync(alice, roomId, "before bob");
        await bob.JoinAsync(roomId);
        var later = await SendAsync(alice, roomId, "after bob joined");

        var initial = await bob.SyncAsync();
        var timeline = Ids(initial["rooms"]!["join"]![roomId]!["timeline"]!["events"]);
        timeline.Should().Contain(later);
        timeline.Contains(earlier).Should().Be(seesEarlier, $"{visibility}: an initial sync");

        // Joined since the token: the same window as an initial sync, filtered the same way.
        using var carol = NewClient();
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var token = (await carol.SyncAsync())["next_batch"]!.GetValue<string>();
        await carol.JoinAsync(roomId);
        var incremental = await carol.SyncUntilAsync(token, s => s["rooms"]?["join"]?[roomId] is not null);
        var carolTimeline = Ids(incremental["rooms"]!["join"]![roomId]!["timeline"]!["events"]);
        carolTimeline.Contains(earlier).Should().Be(seesEarlier, $"{visibility}: joined since the token");
        carolTimeline.Contains(later).Should().Be(seesEarlier, $"{visibility}: joined since the token");
    }

    [Fact]
    public async Task A_room_joined_since_the_token_gets_a_full_timeline_window_and_is_limited_when_cut()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await CreateRoomAsync(alice, "shared");
        var sent = new List<string>();
        for (var i = 0; i < 5; i++) sent.Add(await SendAsync(alice, roomId, $"m{i}"));
        var filter = Uri.EscapeDataString("""{"room":{"timeline":{"limit":3}}}""");
        var token = (await bob.SyncAsync(query: $"&filter={filter}"))["next_batch"]!.GetValue<string>();
        await bob.JoinAsync(roomId);

        var sync = await bob.SyncUntilAsync(token, s => s["rooms"]?["join"]?[roomId] is not null, $"&filter={filter}");
        var room = sync["rooms"]!["join"]![roomId]!;
        var timeline = room["timeline"]!["events"]!.AsArray();
        timeline.Should().HaveCount(3);
        Ids(timeline).Take(2).Should().Equal(sent[3], sent[4]);
        timeline[^1]!["type"]!.GetValue<string>().Should().Be("m.room.member");
        room["timeline"]!["limited"]!.GetValue<bool>().Should().BeTrue();
        room["state"]!["events"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.create");

        // prev_batch pages back to what came before the window.
        var prevBatch = room["timeline"]!["prev_batch"]!.GetValue<string>();
        var older = Ids((await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=3&from={prevBatch}")).Body["chunk"]);
        older.Should().StartWith([sent[2], sent[1], sent[0]]);
    }

    [Fact]
    public async Task Messages_and_context_with_lazy_loading_send_the_senders_members()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await CreateRoomAsync(alice, "shared");
        await bob.JoinAsync(roomId);
        await carol.JoinAsync(roomId);
        await SendAsync(bob, roomId, "from bob");
        var last = await SendAsync(alice, roomId, "from alice");
        var filter = Uri.EscapeDataString("""{"lazy_load_members":true,"types":["m.room.message"]}""");

        var messages = await carol.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=2&filter={filter}");
        messages.Status.Should().Be(200);
        messages.Body["state"]!.AsArray().Select(e => e!["state_key"]!.GetValue<string>()).Should().BeEquivalentTo([alice.UserId, bob.UserId]);

        var context = await carol.GetAsync($"/_matrix/client/v3/rooms/{roomId}/context/{last}?limit=4&filter={filter}");
        context.Status.Should().Be(200);
        Ids(context.Body["events_before"]).Should().ContainSingle("only messages pass the filter");
        var members = context.Body["state"]!.AsArray().Where(e => e!["type"]!.GetValue<string>() == "m.room.member")
            .Select(e => e!["state_key"]!.GetValue<string>());
        members.Should().BeEquivalentTo([alice.UserId, bob.UserId, carol.UserId], "the senders and the user, not everyone");
        context.Body["state"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.create");
    }
}
