using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// The legacy endpoints the spec still lists (old_sync.yaml, peeking_events.yaml,
/// room_initial_sync.yaml): GET /initialSync, GET /events (with and without room_id),
/// GET /events/{eventId} and GET /rooms/{roomId}/initialSync.
/// </summary>
public sealed class LegacySyncApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private Task<MatrixClient> NewUserAsync() => MatrixClient.RegisteredAsync(fixture.Cluster.ApiHosts[0].BaseAddress);

    private static List<string> Ids(JsonNode? events) => events!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).ToList();

    private static JsonObject RoomIn(JsonObject initialSync, string roomId) =>
        initialSync["rooms"]!.AsArray().Single(r => r!["room_id"]!.GetValue<string>() == roomId)!.AsObject();

    private static Task<string> CreateRoomAsync(MatrixClient client, string historyVisibility = "shared", string visibility = "private") =>
        client.CreateRoomAsync(new JsonObject
        {
            ["preset"] = "public_chat",
            ["visibility"] = visibility,
            ["initial_state"] = new JsonArray(new JsonObject
            {
                ["type"] = "m.room.history_visibility", ["content"] = new JsonObject { ["history_visibility"] = historyVisibility },
            }),
        });

    [Fact]
    public async Task Initial_sync_lists_joined_invited_and_archived_rooms_with_state_messages_and_account_data()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var joined = await CreateRoomAsync(alice, visibility: "public");
        var first = await alice.SendTextAsync(joined, "one");
        var second = await alice.SendTextAsync(joined, "two");
        var third = await alice.SendTextAsync(joined, "three");
        (await alice.PutAsync($"/_matrix/client/v3/user/{alice.UserId}/rooms/{joined}/tags/u.work", new JsonObject { ["order"] = 0.5 })).Status.Should().Be(200);
        (await alice.PutAsync($"/_matrix/client/v3/user/{alice.UserId}/account_data/org.example.config", new JsonObject { ["k"] = "v" })).Status.Should().Be(200);
        var invitedTo = await CreateRoomAsync(bob);
        await bob.InviteAsync(invitedTo, alice.UserId);
        var left = await CreateRoomAsync(bob);
        await alice.JoinAsync(left);
        await bob.SetStateAsync(left, "m.room.topic", new JsonObject { ["topic"] = "before" });
        await alice.LeaveAsync(left);
        await bob.SetStateAsync(left, "m.room.topic", new JsonObject { ["topic"] = "after" });

        var (status, sync) = await alice.GetAsync("/_matrix/client/v3/initialSync?limit=2");
        status.Should().Be(200, sync.ToJsonString());
        sync["end"]!.GetValue<string>().Should().StartWith("s");
        sync["presence"].Should().BeOfType<JsonArray>();
        sync["account_data"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "org.example.config");

        var room = RoomIn(sync, joined);
        room["membership"]!.GetValue<string>().Should().Be("join");
        room["visibility"]!.GetValue<string>().Should().Be("public");
        Ids(room["messages"]!["chunk"]).Should().Equal(second, third);
        room["messages"]!["chunk"]![0]!["room_id"]!.GetValue<string>().Should().Be(joined);
        var state = room["state"]!.AsArray();
        state.Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.create");
        state.Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == alice.UserId);
        room["account_data"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "m.tag")!["content"]!["tags"]!["u.work"].Should().NotBeNull();
        // The messages tokens are /messages tokens: back from start comes the earlier message.
        var start = room["messages"]!["start"]!.GetValue<string>();
        var earlier = await alice.GetAsync($"/_matrix/client/v3/rooms/{joined}/messages?dir=b&limit=1&from={start}");
        Ids(earlier.Body["chunk"]).Should().Equal(first);
        var later = await alice.GetAsync($"/_matrix/client/v3/rooms/{joined}/messages?dir=f&from={room["messages"]!["end"]!.GetValue<string>()}");
        Ids(later.Body["chunk"]).Should().BeEmpty();

        var invite = RoomIn(sync, invitedTo);
        invite["membership"]!.GetValue<string>().Should().Be("invite");
        invite["invite"]!["content"]!["membership"]!.GetValue<string>().Should().Be("invite");
        invite["invite"]!["sender"]!.GetValue<string>().Should().Be(bob.UserId);
        invite["state"].Should().BeNull("an invitee does not read the room yet");

        sync["rooms"]!.AsArray().Should().NotContain(r => r!["room_id"]!.GetValue<string>() == left, "archived defaults to false");
        var archived = (await alice.GetAsync("/_matrix/client/v3/initialSync?archived=true")).Body;
        var leftRoom = RoomIn(archived, left);
        leftRoom["membership"]!.GetValue<string>().Should().Be("leave");
        leftRoom["state"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "m.room.topic")!["content"]!["topic"]!.GetValue<string>()
            .Should().Be("before", "the state is as the leave left it");
    }

    [Theory]
    [InlineData("/_matrix/client/v3/initialSync?archived=maybe")]
    [InlineData("/_matrix/client/v3/initialSync?limit=many")]
    [InlineData("/_matrix/client/v3/events?from=nonsense")]
    [InlineData("/_matrix/client/v3/events?timeout=soon")]
    public async Task Bad_parameters_answer_400(string path)
    {
        using var alice = await NewUserAsync();
        var (status, body) = await alice.GetAsync(path);
        (status, body["errcode"]!.GetValue<string>()).Should().Be((400, "M_INVALID_PARAM"));
    }

    [Theory]
    [InlineData("/_matrix/client/v3/initialSync")]
    [InlineData("/_matrix/client/v3/events")]
    [InlineData("/_matrix/client/v3/events/$x")]
    [InlineData("/_matrix/client/v3/rooms/!x:localhost/initialSync")]
    public async Task Each_needs_an_access_token(string path)
    {
        using var anonymous = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        var (status, body) = await anonymous.GetAsync(path);
        (status, body["errcode"]!.GetValue<string>()).Should().Be((401, "M_MISSING_TOKEN"));
    }

    [Fact]
    public async Task The_event_stream_continues_from_initial_sync_and_wakes_for_new_events()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var roomId = await CreateRoomAsync(alice);
        await bob.JoinAsync(roomId);
        var elsewhere = await CreateRoomAsync(bob);
        var end = (await alice.GetAsync("/_matrix/client/v3/initialSync")).Body["end"]!.GetValue<string>();

        var quiet = await alice.GetAsync($"/_matrix/client/v3/events?from={end}&timeout=0");
        quiet.Status.Should().Be(200);
        quiet.Body["chunk"]!.AsArray().Should().BeEmpty();
        (quiet.Body["start"]!.GetValue<string>(), quiet.Body["end"]!.GetValue<string>()).Should().Be((end, end));

        var poll = alice.GetAsync($"/_matrix/client/v3/events?from={end}&timeout=20000");
        await Task.Delay(300);
        await bob.SendTextAsync(elsewhere, "not for alice");
        var sent = await bob.SendTextAsync(roomId, "hello");
        var (status, body) = await poll;
        status.Should().Be(200);
        if (body["chunk"]!.AsArray().Count == 0)
        {
            // Woken before the message was readable: the next poll from its end has it.
            (status, body) = await alice.GetAsync($"/_matrix/client/v3/events?from={body["end"]!.GetValue<string>()}&timeout=20000");
        }
        var chunk = body["chunk"]!.AsArray();
        Ids(chunk).Should().Equal(sent);
        chunk[0]!["room_id"]!.GetValue<string>().Should().Be(roomId);
        chunk[0]!["content"]!["body"]!.GetValue<string>().Should().Be("hello");
        var next = body["end"]!.GetValue<string>();
        next.Should().NotBe(end);

        (await alice.GetAsync($"/_matrix/client/v3/events?from={next}&timeout=0")).Body["chunk"]!.AsArray().Should().BeEmpty();
        // Without a token the stream starts now.
        var fromNow = await alice.GetAsync("/_matrix/client/v3/events?timeout=0");
        (fromNow.Status, fromNow.Body["chunk"]!.AsArray().Count).Should().Be((200, 0));
        // The user's own leave still reaches their stream; what follows it does not.
        await alice.LeaveAsync(roomId);
        var after = await bob.SendTextAsync(roomId, "after alice left");
        var tail = Ids((await alice.GetAsync($"/_matrix/client/v3/events?from={next}&timeout=0")).Body["chunk"]);
        tail.Should().HaveCount(1).And.NotContain(after);
    }

    [Fact]
    public async Task The_event_stream_of_one_room_is_open_to_peekers_of_world_readable_rooms_only()
    {
        using var alice = await NewUserAsync();
        using var stranger = await NewUserAsync();
        var open = await CreateRoomAsync(alice, "world_readable");
        var closed = await CreateRoomAsync(alice, "shared");
        var token = (await stranger.GetAsync("/_matrix/client/v3/initialSync")).Body["end"]!.GetValue<string>();
        var message = await alice.SendTextAsync(open, "for everyone");
        await alice.SendTextAsync(closed, "for members");

        var peek = await stranger.GetAsync($"/_matrix/client/v3/events?room_id={Uri.EscapeDataString(open)}&from={token}&timeout=5000");
        peek.Status.Should().Be(200, peek.Body.ToJsonString());
        Ids(peek.Body["chunk"]).Should().Equal(message);
        var refused = await stranger.GetAsync($"/_matrix/client/v3/events?room_id={Uri.EscapeDataString(closed)}&from={token}&timeout=0");
        (refused.Status, refused.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        // Without room_id the stranger's own stream has neither room.
        (await stranger.GetAsync($"/_matrix/client/v3/events?from={token}&timeout=0")).Body["chunk"]!.AsArray().Should().BeEmpty();
    }

    [Fact]
    public async Task An_event_by_id_alone_is_served_to_those_who_may_see_it()
    {
        using var alice = await NewUserAsync();
        using var stranger = await NewUserAsync();
        var roomId = await CreateRoomAsync(alice);
        var message = await alice.SendTextAsync(roomId, "hi");

        var (status, body) = await alice.GetAsync($"/_matrix/client/v3/events/{Uri.EscapeDataString(message)}");
        status.Should().Be(200);
        (body["event_id"]!.GetValue<string>(), body["room_id"]!.GetValue<string>(), body["content"]!["body"]!.GetValue<string>())
            .Should().Be((message, roomId, "hi"));
        var hidden = await stranger.GetAsync($"/_matrix/client/v3/events/{Uri.EscapeDataString(message)}");
        (hidden.Status, hidden.Body["errcode"]!.GetValue<string>()).Should().Be((404, "M_NOT_FOUND"));
        var unknown = await alice.GetAsync("/_matrix/client/v3/events/$nosuchevent");
        (unknown.Status, unknown.Body["errcode"]!.GetValue<string>()).Should().Be((404, "M_NOT_FOUND"));
    }

    [Fact]
    public async Task Room_initial_sync_serves_members_peekers_and_departed_users_what_each_may_read()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        using var stranger = await NewUserAsync();
        var roomId = await CreateRoomAsync(alice, "shared");
        await bob.JoinAsync(roomId);
        await alice.SetStateAsync(roomId, "m.room.topic", new JsonObject { ["topic"] = "before" });
        var seen = await alice.SendTextAsync(roomId, "while bob was there");
        await bob.LeaveAsync(roomId);
        await alice.SetStateAsync(roomId, "m.room.topic", new JsonObject { ["topic"] = "after" });
        var unseen = await alice.SendTextAsync(roomId, "after bob left");
        var path = $"/_matrix/client/v3/rooms/{roomId}/initialSync";

        var (status, member) = await alice.GetAsync(path + "?limit=1");
        status.Should().Be(200, member.ToJsonString());
        (member["room_id"]!.GetValue<string>(), member["membership"]!.GetValue<string>()).Should().Be((roomId, "join"));
        Ids(member["messages"]!["chunk"]).Should().Equal(unseen);
        member["state"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "m.room.topic")!["content"]!["topic"]!.GetValue<string>().Should().Be("after");
        member["presence"].Should().BeOfType<JsonArray>();
        member["visibility"]!.GetValue<string>().Should().Be("private");

        var departed = (await bob.GetAsync(path)).Body;
        departed["membership"]!.GetValue<string>().Should().Be("leave");
        Ids(departed["messages"]!["chunk"]).Should().Contain(seen).And.NotContain(unseen);
        departed["state"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "m.room.topic")!["content"]!["topic"]!.GetValue<string>().Should().Be("before");

        var refused = await stranger.GetAsync(path);
        (refused.Status, refused.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        await alice.SetStateAsync(roomId, "m.room.history_visibility", new JsonObject { ["history_visibility"] = "world_readable" });
        var (peekStatus, peek) = await stranger.GetAsync(path);
        peekStatus.Should().Be(200);
        peek["membership"].Should().BeNull("a peeker has no membership");
        peek["state"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.create");
        var unknown = await alice.GetAsync("/_matrix/client/v3/rooms/!nosuchroom:localhost/initialSync");
        unknown.Status.Should().BeOneOf(403, 404);
    }
}
