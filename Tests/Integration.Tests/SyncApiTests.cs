using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

public sealed class SyncApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    [Fact]
    public async Task Initial_sync_gives_a_limited_timeline_with_state_before_it_and_a_usable_prev_batch()
    {
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["name"] = "sync room" })).Body["room_id"]!.GetValue<string>();
        var since = (await alice.GetAsync("/_matrix/client/v3/sync?timeout=0")).Body["next_batch"]!.GetValue<string>();
        string last = "";
        for (var i = 0; i < 15; i++) last = await Send(alice, room, $"m{i}", $"message {i}");
        // Follow incremental syncs (each waits on the server's signal) until the last message is out.
        for (var seen = false; !seen;)
        {
            var body = (await alice.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=10000")).Body;
            since = body["next_batch"]!.GetValue<string>();
            seen = body["rooms"]!["join"]![room]?["timeline"]!["events"]!.AsArray().Any(e => e!["event_id"]!.GetValue<string>() == last) ?? false;
        }

        var filter = (await alice.PostAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(await UserId(alice))}/filter",
            new JsonObject { ["room"] = new JsonObject { ["timeline"] = new JsonObject { ["limit"] = 5 } } })).Body["filter_id"]!.GetValue<string>();
        var (status, sync) = await alice.GetAsync($"/_matrix/client/v3/sync?filter={filter}");
        status.Should().Be(200);
        var joined = sync["rooms"]!["join"]![room]!;
        var timeline = joined["timeline"]!["events"]!.AsArray();
        timeline.Select(e => e!["content"]!["body"]!.GetValue<string>()).Should().Equal("message 10", "message 11", "message 12", "message 13", "message 14");
        joined["timeline"]!["limited"]!.GetValue<bool>().Should().BeTrue();
        joined["state"]!["events"]!.AsArray().Select(e => e!["type"]!.GetValue<string>()).Should().Contain(["m.room.create", "m.room.name", "m.room.member"]);

        var earlier = (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=2&from={joined["timeline"]!["prev_batch"]}")).Body["chunk"]!.AsArray();
        earlier.Select(e => e!["content"]!["body"]!.GetValue<string>()).Should().Equal("message 9", "message 8");
    }

    [Fact]
    public async Task A_long_poll_returns_when_an_event_arrives_and_timeout_zero_returns_at_once()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var bobId = (await bob.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["invite"] = new JsonArray(bobId) })).Body["room_id"]!.GetValue<string>();

        var initial = (await bob.GetAsync("/_matrix/client/v3/sync")).Body;
        initial["rooms"]!["invite"]![room]!["invite_state"]!["events"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.create");
        await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject());
        var since = (await bob.GetAsync($"/_matrix/client/v3/sync?since={initial["next_batch"]}&timeout=30000")).Body["next_batch"]!.GetValue<string>();

        var quiet = await bob.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=0");
        quiet.Status.Should().Be(200);
        quiet.Body["rooms"]!["join"]!.AsObject().Should().BeEmpty();

        var waiting = bob.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=30000");
        var sent = await Send(alice, room, "ping", "are you there?");
        var woke = (await waiting.WaitAsync(TimeSpan.FromSeconds(25))).Body;
        woke["rooms"]!["join"]![room]!["timeline"]!["events"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).Should().Contain(sent);
    }

    [Fact]
    public async Task Concurrent_senders_in_rooms_on_both_silos_reach_a_sync_client_exactly_once_in_room_order()
    {
        using var reader = NewClient();
        var readerId = (await reader.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var senders = new List<MatrixClient>();
        for (var i = 0; i < 3; i++)
        {
            var client = NewClient();
            await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
            senders.Add(client);
        }
        // Room IDs are random: create rooms until each silo owns three of them.
        var rooms = new List<string>();
        for (var attempt = 0; rooms.Count < 6 && attempt < 60; attempt++)
        {
            var room = (await senders[attempt % 3].PostAsync("/_matrix/client/v3/createRoom", new JsonObject
            {
                ["preset"] = "public_chat", ["invite"] = new JsonArray(readerId),
            })).Body["room_id"]!.GetValue<string>();
            var silo = Homeserver.Grains.Placement.StablePlacement.Pick(room, 2);
            if (rooms.Count(r => Homeserver.Grains.Placement.StablePlacement.Pick(r, 2) == silo) == 3) continue;
            foreach (var s in senders) await s.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject());
            await reader.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject());
            rooms.Add(room);
        }
        rooms.Select(r => Homeserver.Grains.Placement.StablePlacement.Pick(r, 2)).Distinct().Should().HaveCount(2, "rooms on both silos");

        var since = (await reader.GetAsync("/_matrix/client/v3/sync?timeout=0")).Body["next_batch"]!.GetValue<string>();
        var expected = new ConcurrentDictionary<string, ConcurrentQueue<string>>();
        var sending = senders.Select((client, s) => Task.Run(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                var room = rooms[(s + i) % rooms.Count];
                var id = await Send(client, room, $"c{s}-{i}", $"{s}/{i}");
                expected.GetOrAdd(room, _ => new ConcurrentQueue<string>()).Enqueue(id);
            }
        })).ToArray();

        var received = rooms.ToDictionary(r => r, _ => new List<string>());
        var total = 0;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (total < 60 && DateTime.UtcNow < deadline)
        {
            var body = (await reader.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=5000&filter=%7B%22room%22%3A%7B%22timeline%22%3A%7B%22limit%22%3A100%7D%7D%7D")).Body;
            since = body["next_batch"]!.GetValue<string>();
            foreach (var (room, value) in body["rooms"]!["join"]!.AsObject())
            {
                foreach (var e in value!["timeline"]!["events"]!.AsArray().Where(e => e!["type"]!.GetValue<string>() == "m.room.message"))
                {
                    received[room].Add(e!["event_id"]!.GetValue<string>());
                    total++;
                }
            }
        }
        await Task.WhenAll(sending);

        foreach (var room in rooms)
        {
            // Per room the sends are sequential per sender, so compare as sets and check order by the room's own history.
            received[room].Should().OnlyHaveUniqueItems();
            received[room].Should().BeEquivalentTo(expected.GetValueOrDefault(room)?.ToArray() ?? []);
            var history = (await reader.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=f&limit=1000")).Body["chunk"]!.AsArray()
                .Where(e => e!["type"]!.GetValue<string>() == "m.room.message").Select(e => e!["event_id"]!.GetValue<string>()).ToList();
            received[room].Should().Equal(history, "sync delivers each room's events in the room's order");
        }
        total.Should().Be(60);
        foreach (var s in senders) s.Dispose();
    }

    [Fact]
    public async Task Account_data_and_tags_reach_sync_and_wake_a_long_poll()
    {
        using var alice = NewClient();
        var me = (await alice.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>();
        var since = (await alice.GetAsync("/_matrix/client/v3/sync?timeout=0")).Body["next_batch"]!.GetValue<string>();

        // The first long-poll may also carry the room's creation if it was not safe yet; follow until m.direct arrives.
        var waiting = alice.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=30000");
        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/user/{me}/account_data/m.direct", """{"@x:test.local":["!r:test.local"]}""")).Status.Should().Be(200);
        var woke = (await waiting.WaitAsync(TimeSpan.FromSeconds(25))).Body;
        for (var attempt = 0; attempt < 5 && !HasAccountData(woke, "m.direct"); attempt++)
        {
            woke = (await alice.GetAsync($"/_matrix/client/v3/sync?since={woke["next_batch"]}&timeout=10000")).Body;
        }
        HasAccountData(woke, "m.direct").Should().BeTrue();

        since = woke["next_batch"]!.GetValue<string>();
        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/user/{me}/rooms/{room}/tags/u.work", """{"order":0.5}""")).Status.Should().Be(200);
        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/user/{me}/rooms/{room}/tags/m.favourite", "{}")).Status.Should().Be(200);
        (await alice.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/user/{me}/rooms/{room}/tags/u.work", null)).Status.Should().Be(200);
        var tags = (await alice.GetAsync($"/_matrix/client/v3/user/{me}/rooms/{room}/tags")).Body["tags"]!.AsObject();
        tags.Select(kv => kv.Key).Should().Equal("m.favourite");

        JsonNode? roomTags = null;
        for (var attempt = 0; attempt < 5 && roomTags is null; attempt++)
        {
            var body = (await alice.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=10000")).Body;
            since = body["next_batch"]!.GetValue<string>();
            roomTags = body["rooms"]!["join"]![room]?["account_data"]!["events"]!.AsArray().FirstOrDefault(e => e!["type"]!.GetValue<string>() == "m.tag");
        }
        roomTags!["content"]!["tags"]!.AsObject().Select(kv => kv.Key).Should().Equal("m.favourite");
        (await alice.GetAsync($"/_matrix/client/v3/user/@other:test.local/account_data/m.direct")).Status.Should().Be(403);
    }

    [Fact]
    public async Task Typing_from_one_user_reaches_the_others_sync_through_the_typing_stream()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        var aliceId = (await alice.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var bobId = (await bob.RegisterAsync(MatrixClient.NewUserName(), "pw"))["user_id"]!.GetValue<string>();
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject());
        var since = (await bob.GetAsync("/_matrix/client/v3/sync?timeout=0")).Body["next_batch"]!.GetValue<string>();

        async Task<IReadOnlyList<string>> NextTypingAsync()
        {
            for (var attempt = 0; attempt < 5; attempt++)
            {
                var body = (await bob.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=10000")).Body;
                since = body["next_batch"]!.GetValue<string>();
                var typing = body["rooms"]!["join"]![room]?["ephemeral"]!["events"]!.AsArray().FirstOrDefault(e => e!["type"]!.GetValue<string>() == "m.typing");
                if (typing is not null) return typing["content"]!["user_ids"]!.AsArray().Select(u => u!.GetValue<string>()).ToList();
            }
            throw new InvalidOperationException("no typing notification arrived");
        }

        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/typing/{aliceId}", """{"typing":true,"timeout":30000}""")).Status.Should().Be(200);
        (await NextTypingAsync()).Should().Equal(aliceId);
        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/typing/{aliceId}", """{"typing":false}""")).Status.Should().Be(200);
        (await NextTypingAsync()).Should().BeEmpty();
        (await bob.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/typing/{aliceId}", """{"typing":true}""")).Status.Should().Be(403);
    }

    [Fact]
    public async Task Messages_and_members_accept_sync_tokens_as_the_spec_allows()
    {
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject());
        var before = await Send(alice, room, "t1", "before the token");
        var token = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var after = await Send(alice, room, "t2", "after the token");

        static List<string> Ids(JsonObject page) => page["chunk"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).ToList();
        // Backwards from a sync's next_batch: what happened up to it, newest first; forwards: what came after.
        var (status, back) = await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&from={token}");
        status.Should().Be(200);
        Ids(back).Should().StartWith(before).And.NotContain(after);
        var forward = (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=f&from={token}")).Body;
        Ids(forward).Should().Equal(after);
        // 'to' takes one too: forwards from the room's start up to the token stops before the later event.
        var upTo = (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=f&to={token}&limit=50")).Body;
        Ids(upTo).Should().Contain(before).And.NotContain(after);
        // The members at a sync token (matrix-js-sdk and Hydrogen ask so).
        var (membersStatus, members) = await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/members?at={token}");
        membersStatus.Should().Be(200);
        members["chunk"]!.AsArray().Select(e => e!["state_key"]!.GetValue<string>()).Should().Contain(await UserId(alice));
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&from=s_x")).Status.Should().Be(400);
    }

    [Fact]
    public async Task The_sending_device_sees_its_transaction_id_and_other_devices_do_not()
    {
        using var phone = NewClient();
        var name = MatrixClient.NewUserName();
        await phone.RegisterAsync(name, "pw");
        using var laptop = NewClient();
        await laptop.LoginAsync(await UserId(phone), "pw");
        var room = await phone.CreateRoomAsync(new JsonObject());
        var sent = await Send(phone, room, "local-echo-7", "hello");

        static JsonObject? Find(JsonObject sync, string room, string eventId) => sync["rooms"]!["join"]![room]?["timeline"]!["events"]!.AsArray()
            .OfType<JsonObject>().FirstOrDefault(e => e["event_id"]!.GetValue<string>() == eventId);
        Find(await phone.SyncAsync(), room, sent)!["unsigned"]!["transaction_id"]!.GetValue<string>().Should().Be("local-echo-7");
        Find(await laptop.SyncAsync(), room, sent)!["unsigned"]?["transaction_id"].Should().BeNull("another device of the same user did not send it");

        // As Synapse: wherever the event is served to the device that sent it.
        static JsonObject? InChunk(JsonObject body, string key, string eventId) =>
            body[key]!.AsArray().OfType<JsonObject>().FirstOrDefault(e => e["event_id"]!.GetValue<string>() == eventId);
        var path = $"/_matrix/client/v3/rooms/{Uri.EscapeDataString(room)}";
        InChunk((await phone.GetAsync($"{path}/messages?dir=b")).Body, "chunk", sent)!["unsigned"]!["transaction_id"]!.GetValue<string>()
            .Should().Be("local-echo-7");
        InChunk((await laptop.GetAsync($"{path}/messages?dir=b")).Body, "chunk", sent)!["unsigned"]?["transaction_id"].Should().BeNull();
        (await phone.GetAsync($"{path}/event/{Uri.EscapeDataString(sent)}")).Body["unsigned"]!["transaction_id"]!.GetValue<string>().Should().Be("local-echo-7");
        (await laptop.GetAsync($"{path}/event/{Uri.EscapeDataString(sent)}")).Body["unsigned"]?["transaction_id"].Should().BeNull();
        var context = (await phone.GetAsync($"{path}/context/{Uri.EscapeDataString(sent)}")).Body;
        context["event"]!["unsigned"]!["transaction_id"]!.GetValue<string>().Should().Be("local-echo-7");
        var later = await Send(phone, room, "local-echo-8", "again");
        context = (await phone.GetAsync($"{path}/context/{Uri.EscapeDataString(sent)}")).Body;
        InChunk(context, "events_after", later)!["unsigned"]!["transaction_id"]!.GetValue<string>().Should().Be("local-echo-8");
    }

    private static bool HasAccountData(JsonObject sync, string type) =>
        sync["account_data"]!["events"]!.AsArray().Any(e => e!["type"]!.GetValue<string>() == type);

    private static async Task<string> UserId(MatrixClient client) =>
        (await client.GetAsync("/_matrix/client/v3/account/whoami")).Body["user_id"]!.GetValue<string>();

    private static async Task<string> Send(MatrixClient client, string room, string txn, string body)
    {
        var (status, response) = await client.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}",
            new JsonObject { ["msgtype"] = "m.text", ["body"] = body }.ToJsonString());
        status.Should().Be(200, response.ToJsonString());
        return response["event_id"]!.GetValue<string>();
    }
}
