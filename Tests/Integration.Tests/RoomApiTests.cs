using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

public sealed class RoomApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    [Fact]
    public async Task A_transaction_id_is_scoped_to_the_device_and_the_whole_path()
    {
        // Spec, "Transaction identifiers": a retransmission has the same txnId and the same HTTP path.
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var first = await alice.CreateRoomAsync(new JsonObject());
        var second = await alice.CreateRoomAsync(new JsonObject());
        var message = new JsonObject { ["msgtype"] = "m.text", ["body"] = "hi" };
        async Task<string> SendAsync(string room, string type)
        {
            var (status, body) = await alice.PutAsync($"/_matrix/client/v3/rooms/{room}/send/{type}/same-txn", message.DeepClone().AsObject());
            status.Should().Be(200, body.ToJsonString());
            return body["event_id"]!.GetValue<string>();
        }

        var original = await SendAsync(first, "m.room.message");
        (await SendAsync(first, "m.room.message")).Should().Be(original, "the same path is a retransmission");
        var otherRoom = await SendAsync(second, "m.room.message");
        var otherType = await SendAsync(first, "m.custom");
        new[] { original, otherRoom, otherType }.Should().OnlyHaveUniqueItems("another room or event type is another request");
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{second}/event/{Uri.EscapeDataString(otherRoom)}")).Status.Should().Be(200);

        // Redactions: the redacted event is part of the path too.
        var (r1, redactFirst) = await alice.PutAsync($"/_matrix/client/v3/rooms/{first}/redact/{Uri.EscapeDataString(original)}/same-txn", new JsonObject());
        var (r2, redactOther) = await alice.PutAsync($"/_matrix/client/v3/rooms/{first}/redact/{Uri.EscapeDataString(otherType)}/same-txn", new JsonObject());
        (r1, r2).Should().Be((200, 200));
        redactFirst["event_id"]!.GetValue<string>().Should().NotBe(redactOther["event_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Two_users_create_invite_join_chat_and_page_history()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        var aliceId = (await alice.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var bobId = (await bob.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();

        var (created, room) = await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["name"] = "Planning", ["topic"] = "what next", ["invite"] = new JsonArray(bobId),
        });
        created.Should().Be(200);
        var roomId = room["room_id"]!.GetValue<string>();
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.name")).Body["name"]!.GetValue<string>().Should().Be("Planning");

        // Bob is invited, not joined: with "shared" history he sees nothing yet; then he joins.
        var invitedView = await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages");
        invitedView.Status.Should().Be(200);
        invitedView.Body["chunk"]!.AsArray().Should().BeEmpty();
        (await bob.PostAsync($"/_matrix/client/v3/join/{roomId}", new JsonObject())).Status.Should().Be(200);
        (await bob.GetAsync("/_matrix/client/v3/joined_rooms")).Body["joined_rooms"]!.AsArray()
            .Select(r => r!.GetValue<string>()).Should().Contain(roomId);

        var sent = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var who = i % 2 == 0 ? alice : bob;
            var (status, body) = await SendAsync(who, roomId, $"txn{i}", $"message {i}");
            status.Should().Be(200);
            sent.Add(body["event_id"]!.GetValue<string>());
        }
        // The same transaction ID from the same device returns the same event.
        (await SendAsync(alice, roomId, "txn0", "message 0")).Body["event_id"]!.GetValue<string>().Should().Be(sent[0]);

        var page1 = (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=3")).Body;
        page1["chunk"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal(sent[4], sent[3], sent[2]);
        var page2 = (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=2&from={page1["end"]}")).Body;
        page2["chunk"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal(sent[1], sent[0]);
        var bounded = (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=10&to={page1["end"]}")).Body["chunk"]!.AsArray();
        bounded.Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal([sent[4], sent[3], sent[2]], "'to' stops the page at the token");
        var forward = (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=f&limit=100")).Body["chunk"]!.AsArray();
        // The boundary just before Bob's join: he was invited then, not joined.
        var bobJoinIndex = forward.Select((e, i) => (e, i)).First(x => x.e!["type"]!.GetValue<string>() == "m.room.member" &&
            x.e["state_key"]!.GetValue<string>() == bobId && x.e["content"]!["membership"]!.GetValue<string>() == "join").i;
        var forwardToken = $"r{bobJoinIndex + 1}";
        forward[0]!["type"]!.GetValue<string>().Should().Be("m.room.create");
        forward.Select(e => e!["event_id"]!.GetValue<string>()).TakeLast(5).Should().Equal(sent);

        var members = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/joined_members")).Body["joined"]!.AsObject();
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/members?not_membership=join")).Body["chunk"]!.AsArray().Should().BeEmpty();
        var invitedAtStart = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/members?at={forwardToken}&membership=invite")).Body["chunk"]!.AsArray();
        invitedAtStart.Select(e => e!["state_key"]!.GetValue<string>()).Should().Equal(bobId);
        members.Select(kv => kv.Key).Should().BeEquivalentTo([aliceId, bobId]);
        var evt = (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{sent[0]}")).Body;
        evt["content"]!["body"]!.GetValue<string>().Should().Be("message 0");
        evt["sender"]!.GetValue<string>().Should().Be(aliceId);

        // Power levels hold: Bob may not rename the room; Alice may kick Bob, who then cannot read.
        var rename = await bob.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/state/m.room.name", """{"name":"mine"}""");
        (rename.Status, rename.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/kick", new JsonObject { ["user_id"] = bobId })).Status.Should().Be(200);
        (await SendAsync(bob, roomId, "after-kick", "hello?")).Status.Should().Be(403);
        var secret = (await SendAsync(alice, roomId, "after-kick", "bob is gone")).Body["event_id"]!.GetValue<string>();
        var kickedView = (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?limit=50")).Body["chunk"]!.AsArray()
            .Select(e => e!["event_id"]!.GetValue<string>()).ToList();
        kickedView.Should().Contain(sent).And.NotContain(secret, "after leaving, a user sees history only up to their departure");
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{secret}")).Status.Should().Be(404);
    }

    [Theory]
    [InlineData("joined", false, false)]
    [InlineData("invited", true, false)]
    [InlineData("shared", true, true)]
    [InlineData("world_readable", true, true)]
    public async Task History_visibility_decides_what_a_late_joiner_sees(string visibility, bool seesWhileInvited, bool seesBeforeInvite)
    {
        using var alice = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var carolId = (await carol.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var roomId = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["initial_state"] = new JsonArray(new JsonObject
            {
                ["type"] = "m.room.history_visibility", ["content"] = new JsonObject { ["history_visibility"] = visibility },
            }),
        })).Body["room_id"]!.GetValue<string>();
        var early = (await SendAsync(alice, roomId, "early", "before the invite")).Body["event_id"]!.GetValue<string>();
        await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", new JsonObject { ["user_id"] = carolId });
        var whileInvited = (await SendAsync(alice, roomId, "invited", "while invited")).Body["event_id"]!.GetValue<string>();
        await carol.PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());
        var late = (await SendAsync(alice, roomId, "late", "after the join")).Body["event_id"]!.GetValue<string>();

        var seen = (await carol.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?limit=100")).Body["chunk"]!.AsArray()
            .Select(e => e!["event_id"]!.GetValue<string>()).ToList();
        seen.Should().Contain(late);
        seen.Contains(whileInvited).Should().Be(seesWhileInvited, $"{visibility}: events while invited");
        seen.Contains(early).Should().Be(seesBeforeInvite, $"{visibility}: events before the invite");

        using var stranger = NewClient();
        await stranger.RegisterAsync(MatrixClient.NewUserName(), "pw");
        (await stranger.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages")).Status.Should().Be(visibility == "world_readable" ? 200 : 403);
    }

    [Fact]
    public async Task Messages_can_be_filtered_and_left_rooms_forgotten()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        var aliceId = (await alice.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());
        await SendAsync(alice, roomId, "m1", "from alice");
        await SendAsync(bob, roomId, "m2", "from bob");
        await bob.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/send/com.example.custom/c1", "{}");

        async Task<List<string>> Types(string filter) => (await bob.GetAsync(
                $"/_matrix/client/v3/rooms/{roomId}/messages?limit=50&filter={Uri.EscapeDataString(filter)}")).Body["chunk"]!.AsArray()
            .Select(e => e!["type"]!.GetValue<string>()).ToList();
        (await Types("""{"types":["m.room.message"]}""")).Should().Equal("m.room.message", "m.room.message");
        (await Types("""{"types":["m.room.*"],"not_types":["m.room.member","m.room.message"]}""")).Should().NotContain(["m.room.member", "m.room.message", "com.example.custom"]);
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?limit=50&filter={Uri.EscapeDataString($$"""{"senders":["{{aliceId}}"],"types":["m.room.message"]}""")}"))
            .Body["chunk"]!.AsArray().Single()!["content"]!["body"]!.GetValue<string>().Should().Be("from alice");
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?filter=%7Bbad")).Status.Should().Be(400);

        (await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/forget", new JsonObject())).Status.Should().Be(400, "a joined user cannot forget");
        await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/leave", new JsonObject());
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages")).Status.Should().Be(200, "left users read up to their departure");
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/forget", new JsonObject())).Status.Should().Be(200);
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages")).Status.Should().Be(403, "a forgotten room's history is gone for them");
        await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages")).Status.Should().Be(200, "rejoining remembers the room");
    }

    [Fact]
    public async Task Restricted_rooms_admit_members_of_the_allowed_room_only()
    {
        using var alice = NewClient();
        using var carol = NewClient();
        using var dave = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var carolId = (await carol.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        await dave.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var space = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        var restricted = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["initial_state"] = new JsonArray(new JsonObject
            {
                ["type"] = "m.room.join_rules",
                ["content"] = new JsonObject
                {
                    ["join_rule"] = "restricted",
                    ["allow"] = new JsonArray(new JsonObject { ["type"] = "m.room_membership", ["room_id"] = space }),
                },
            }),
        })).Body["room_id"]!.GetValue<string>();
        await carol.PostAsync($"/_matrix/client/v3/rooms/{space}/join", new JsonObject());

        (await carol.PostAsync($"/_matrix/client/v3/rooms/{restricted}/join", new JsonObject())).Status.Should().Be(200);
        var member = (await carol.GetAsync($"/_matrix/client/v3/rooms/{restricted}/state/m.room.member/{carolId}")).Body;
        member["join_authorised_via_users_server"].Should().NotBeNull();
        (await dave.PostAsync($"/_matrix/client/v3/rooms/{restricted}/join", new JsonObject())).Status.Should().Be(403);
    }

    [Fact]
    public async Task Knocking_on_a_knock_room_then_being_invited_lets_the_user_join()
    {
        using var alice = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var carolId = (await carol.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["initial_state"] = new JsonArray(new JsonObject { ["type"] = "m.room.join_rules", ["content"] = new JsonObject { ["join_rule"] = "knock" } }),
        })).Body["room_id"]!.GetValue<string>();

        (await carol.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject())).Status.Should().Be(403);
        (await carol.PostAsync($"/_matrix/client/v3/knock/{room}", new JsonObject { ["reason"] = "let me in" })).Status.Should().Be(200);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/state/m.room.member/{carolId}")).Body["membership"]!.GetValue<string>().Should().Be("knock");
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{room}/invite", new JsonObject { ["user_id"] = carolId })).Status.Should().Be(200);
        (await carol.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject())).Status.Should().Be(200);
    }

    [Fact]
    public async Task Kicks_need_a_member_never_unban_and_repeated_memberships_and_state_change_nothing()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var bobId = (await bob.GetAsync("/_matrix/client/v3/account/whoami")).Body["user_id"]!.GetValue<string>();
        var carolId = (await carol.GetAsync("/_matrix/client/v3/account/whoami")).Body["user_id"]!.GetValue<string>();
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        async Task<string?> MembershipOf(string userId) =>
            (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.member/{Uri.EscapeDataString(userId)}")).Body["membership"]?.GetValue<string>();

        // Kicking someone who never joined, or who already left, fails.
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/kick", new JsonObject { ["user_id"] = carolId })).Status.Should().Be(403);
        await bob.JoinAsync(roomId);
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/leave", new JsonObject())).Status.Should().Be(200);
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/kick", new JsonObject { ["user_id"] = bobId })).Status.Should().Be(403);

        // Kicking a banned user must not unban them; unban does.
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/ban", new JsonObject { ["user_id"] = carolId })).Status.Should().Be(200);
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/kick", new JsonObject { ["user_id"] = carolId })).Status.Should().Be(403);
        (await MembershipOf(carolId)).Should().Be("ban");
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/unban", new JsonObject { ["user_id"] = carolId })).Status.Should().Be(200);
        (await MembershipOf(carolId)).Should().Be("leave");

        // A join keeps the client's own content keys; joining again with the same content is the same event.
        var (status, joined) = await bob.PostAsync($"/_matrix/client/v3/join/{roomId}", new JsonObject { ["org.example.badge"] = "gold", ["reason"] = "back" });
        status.Should().Be(200);
        var member = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.member/{Uri.EscapeDataString(bobId)}")).Body;
        member["org.example.badge"]!.GetValue<string>().Should().Be("gold");
        member["reason"]!.GetValue<string>().Should().Be("back");
        var eventsBefore = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=100")).Body["chunk"]!.AsArray().Count;
        (await bob.PostAsync($"/_matrix/client/v3/join/{roomId}", new JsonObject { ["org.example.badge"] = "gold", ["reason"] = "back" })).Status.Should().Be(200);

        // Setting a state event to what it already is, as its sender, writes nothing and answers the current event.
        var topic = new JsonObject { ["topic"] = "same" };
        var first = (await alice.PutAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.topic", topic)).Body["event_id"]!.GetValue<string>();
        var again = (await alice.PutAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.topic", new JsonObject { ["topic"] = "same" })).Body["event_id"]!.GetValue<string>();
        again.Should().Be(first);
        var eventsAfter = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=100")).Body["chunk"]!.AsArray().Count;
        eventsAfter.Should().Be(eventsBefore + 1, "only the first topic was written; the repeated join and topic were not");
    }

    [Fact]
    public async Task Public_rooms_can_be_joined_and_invite_only_rooms_cannot()
    {
        using var alice = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var open = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        var closed = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>();

        (await carol.PostAsync($"/_matrix/client/v3/rooms/{open}/join", new JsonObject())).Status.Should().Be(200);
        var refused = await carol.PostAsync($"/_matrix/client/v3/rooms/{closed}/join", new JsonObject());
        (refused.Status, refused.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        (await carol.PostAsync($"/_matrix/client/v3/rooms/{open}/leave", new JsonObject())).Status.Should().Be(200);
        (await carol.GetAsync("/_matrix/client/v3/joined_rooms")).Body["joined_rooms"]!.AsArray().Should().BeEmpty();
    }

    [Fact]
    public async Task A_profile_change_updates_the_member_event_in_every_joined_room()
    {
        using var alice = NewClient();
        var aliceId = (await alice.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var rooms = new List<string>();
        for (var i = 0; i < 2; i++) rooms.Add((await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>());

        var set = await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/profile/{aliceId}/displayname", """{"displayname":"Alice A."}""");
        set.Status.Should().Be(200);
        (await alice.GetAsync($"/_matrix/client/v3/profile/{aliceId}")).Body["displayname"]!.GetValue<string>().Should().Be("Alice A.");
        foreach (var room in rooms)
        {
            var member = (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/state/m.room.member/{aliceId}")).Body;
            member["displayname"]!.GetValue<string>().Should().Be("Alice A.");
            member["membership"]!.GetValue<string>().Should().Be("join");
        }

        using var other = NewClient();
        await other.RegisterAsync(MatrixClient.NewUserName(), "pw");
        (await other.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/profile/{aliceId}/displayname", """{"displayname":"x"}""")).Status.Should().Be(403);
        (await other.GetAsync("/_matrix/client/v3/profile/@nobody:test.local")).Status.Should().Be(404);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("11")]
    public async Task Redacted_events_are_served_redacted_and_only_allowed_redactions_happen(string roomVersion)
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["preset"] = "public_chat", ["room_version"] = roomVersion,
        })).Body["room_id"]!.GetValue<string>();
        await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());
        var aliceMessage = (await SendAsync(alice, roomId, "a1", "secret")).Body["event_id"]!.GetValue<string>();
        var bobMessage = (await SendAsync(bob, roomId, "b1", "oops")).Body["event_id"]!.GetValue<string>();

        var denied = await bob.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/redact/{aliceMessage}/r1", "{}");
        (denied.Status, denied.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        var own = await bob.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/redact/{bobMessage}/r2", """{"reason":"typo"}""");
        own.Status.Should().Be(200);
        var byAdmin = await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/redact/{bobMessage}/r3", "{}");
        byAdmin.Status.Should().Be(200, "the room admin holds the redact level");

        var served = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{bobMessage}")).Body;
        served["content"]!.AsObject().Should().BeEmpty();
        served["unsigned"]!["redacted_because"].Should().NotBeNull();
        var untouched = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{aliceMessage}")).Body;
        untouched["content"]!["body"]!.GetValue<string>().Should().Be("secret");
        var redaction = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{own.Body["event_id"]}")).Body;
        (roomVersion == "11" ? redaction["content"]!["redacts"] : redaction["redacts"])!.GetValue<string>().Should().Be(bobMessage);
        var history = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?limit=10")).Body["chunk"]!.AsArray();
        history.Single(e => e!["event_id"]!.GetValue<string>() == bobMessage)!["content"]!.AsObject().Should().BeEmpty();

        var missing = await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/redact/$nope/r4", "{}");
        missing.Status.Should().Be(404);
    }

    private static Task<(int Status, JsonObject Body)> SendAsync(MatrixClient client, string roomId, string txn, string text) =>
        client.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txn}",
            new JsonObject { ["msgtype"] = "m.text", ["body"] = text }.ToJsonString());
}
