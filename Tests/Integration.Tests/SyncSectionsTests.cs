using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// The per-user streams through /sync on the two-silo cluster: receipts, presence, push rules and
/// unread counts, the leave section, the room summary, lazy-loaded members and event filters.
/// </summary>
public sealed class SyncSectionsTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    private async Task<(MatrixClient Alice, MatrixClient Bob, string Room)> TwoInARoomAsync(JsonObject? createBody = null)
    {
        var alice = NewClient();
        var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var body = createBody ?? new JsonObject();
        body["invite"] = new JsonArray(bob.UserId);
        var room = await alice.CreateRoomAsync(body);
        await bob.JoinAsync(room);
        return (alice, bob, room);
    }

    private static JsonNode? Joined(JsonObject sync, string room) => sync["rooms"]!["join"]![room];

    private static JsonObject Counts(JsonObject sync, string room) => Joined(sync, room)!["unread_notifications"]!.AsObject();

    public static TheoryData<string, string, bool, int, int> UnreadCases() => new()
    {
        // case, message content (BOB stands for Bob's user ID), direct chat (2 members, else 3), notifications, highlights
        { "plain message in a group", """{"msgtype":"m.text","body":"lunch?"}""", false, 1, 0 },
        { "plain message in a DM", """{"msgtype":"m.text","body":"lunch?"}""", true, 1, 0 },
        { "mention of Bob", """{"msgtype":"m.text","body":"you there?","m.mentions":{"user_ids":["BOB"]}}""", false, 1, 1 },
        { "room mention by the creator", """{"msgtype":"m.text","body":"all hands","m.mentions":{"room":true}}""", false, 1, 1 },
        { "notice", """{"msgtype":"m.notice","body":"build passed"}""", false, 0, 0 },
    };

    [Fact]
    public async Task Unread_counts_add_up_across_incremental_syncs_and_start_again_from_each_receipt()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var since = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();

        async Task<JsonObject> SendAndSeeAsync(JsonObject content)
        {
            var eventId = await alice.SendMessageAsync(room, content);
            var sync = await bob.SyncUntilAsync(since, s =>
                Joined(s, room)?["timeline"]!["events"]!.AsArray().Any(e => e!["event_id"]!.GetValue<string>() == eventId) ?? false);
            since = sync["next_batch"]!.GetValue<string>();
            return sync;
        }
        (int, int) Of(JsonObject sync) => (Counts(sync, room)["notification_count"]!.GetValue<int>(), Counts(sync, room)["highlight_count"]!.GetValue<int>());
        var plain = new JsonObject { ["msgtype"] = "m.text", ["body"] = "hello" };

        Of(await SendAndSeeAsync(plain.DeepClone().AsObject())).Should().Be((1, 0));
        Of(await SendAndSeeAsync(plain.DeepClone().AsObject())).Should().Be((2, 0));
        var third = await SendAndSeeAsync(plain.DeepClone().AsObject());
        Of(third).Should().Be((3, 0));

        // A receipt on the second message: only the third stays unread.
        var latestTwo = (await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=2")).Body["chunk"]!.AsArray();
        var second = latestTwo[1]!["event_id"]!.GetValue<string>();
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.read/{second}", new JsonObject())).Status.Should().Be(200);
        var afterReceipt = await bob.SyncUntilAsync(since, s => Joined(s, room) is not null);
        since = afterReceipt["next_batch"]!.GetValue<string>();
        Of(afterReceipt).Should().Be((1, 0));

        Of(await SendAndSeeAsync(new JsonObject
        {
            ["msgtype"] = "m.text", ["body"] = "look", ["m.mentions"] = new JsonObject { ["user_ids"] = new JsonArray(bob.UserId) },
        })).Should().Be((2, 1));
        Of(await SendAndSeeAsync(plain.DeepClone().AsObject())).Should().Be((3, 1));

        // Another device counts from scratch and agrees.
        using var bobElsewhere = NewClient();
        await bobElsewhere.LoginAsync(bob.UserId, "pw");
        Of(await bobElsewhere.SyncAsync()).Should().Be((3, 1));
    }

    [Theory]
    [MemberData(nameof(UnreadCases))]
    public async Task Default_push_rules_give_unread_counts_that_a_read_receipt_clears(string name, string content, bool direct, int notifications, int highlights)
    {
        using var carol = NewClient();
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        if (!direct)
        {
            await alice.PostAsync($"/_matrix/client/v3/rooms/{room}/invite", new JsonObject { ["user_id"] = carol.UserId });
            await carol.JoinAsync(room);
        }
        var since = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var eventId = await alice.SendMessageAsync(room, JsonNode.Parse(content.Replace("BOB", bob.UserId))!.AsObject());
        var sync = await bob.SyncUntilAsync(since, s => Joined(s, room)?["timeline"]!["events"]!.AsArray().Any(e => e!["event_id"]!.GetValue<string>() == eventId) ?? false);
        Counts(sync, room)["notification_count"]!.GetValue<int>().Should().Be(notifications, name);
        Counts(sync, room)["highlight_count"]!.GetValue<int>().Should().Be(highlights, name);

        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.read/{eventId}", new JsonObject())).Status.Should().Be(200);
        var read = await bob.SyncUntilAsync(sync["next_batch"]!.GetValue<string>(), s => Joined(s, room) is not null);
        Counts(read, room)["notification_count"]!.GetValue<int>().Should().Be(0, name);
        Counts(read, room)["highlight_count"]!.GetValue<int>().Should().Be(0, name);
    }

    [Fact]
    public async Task Public_receipts_reach_the_other_member_private_ones_only_their_owner()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var first = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "one" });
        var second = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "two" });
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();

        await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.read.private/{second}", new JsonObject());
        await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.read/{first}", new JsonObject { ["thread_id"] = "main" });
        static JsonObject? ReceiptContent(JsonObject s, string room) => Joined(s, room)?["ephemeral"]!["events"]!.AsArray()
            .FirstOrDefault(e => e!["type"]!.GetValue<string>() == "m.receipt")?["content"]?.AsObject();

        var atAlice = await alice.SyncUntilAsync(aliceSince, s => ReceiptContent(s, room)?[first] is not null);
        var receipt = ReceiptContent(atAlice, room)!;
        receipt[first]!["m.read"]![bob.UserId]!["thread_id"]!.GetValue<string>().Should().Be("main");
        receipt.ContainsKey(second).Should().BeFalse("a private receipt is only for its owner");

        var atBob = await bob.SyncAsync();
        ReceiptContent(atBob, room)![second]!["m.read.private"]![bob.UserId].Should().NotBeNull();

        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.bogus/{first}", new JsonObject())).Body["errcode"]!.GetValue<string>().Should().Be("M_INVALID_PARAM");
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.read/$nope", new JsonObject())).Status.Should().Be(404);
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/read_markers", new JsonObject { ["m.fully_read"] = second })).Status.Should().Be(200);
        var marker = (await bob.GetAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(bob.UserId)}/rooms/{room}/account_data/m.fully_read")).Body;
        marker["event_id"]!.GetValue<string>().Should().Be(second);
    }

    [Fact]
    public async Task Presence_set_by_one_user_reaches_a_room_peer_through_sync()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var since = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        (await alice.PutAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(alice.UserId)}/status",
            new JsonObject { ["presence"] = "unavailable", ["status_msg"] = "in a meeting" })).Status.Should().Be(200);

        static JsonNode? PresenceOf(JsonObject s, string user) =>
            s["presence"]!["events"]!.AsArray().LastOrDefault(e => e!["sender"]!.GetValue<string>() == user)?["content"];
        var sync = await bob.SyncUntilAsync(since, s => PresenceOf(s, alice.UserId)?["presence"]?.GetValue<string>() == "unavailable",
            "&set_presence=offline");
        PresenceOf(sync, alice.UserId)!["status_msg"]!.GetValue<string>().Should().Be("in a meeting");
        var status = (await bob.GetAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(alice.UserId)}/status")).Body;
        status["presence"]!.GetValue<string>().Should().Be("unavailable");

        using var stranger = NewClient();
        await stranger.RegisterAsync(MatrixClient.NewUserName(), "pw");
        (await stranger.GetAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(alice.UserId)}/status")).Status.Should().Be(403);
        (await alice.PutAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(alice.UserId)}/status", new JsonObject { ["presence"] = "busy" })).Status.Should().Be(400);
    }

    [Fact]
    public async Task Joining_a_room_brings_its_members_presence_and_a_new_member_brings_theirs_however_old()
    {
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var alice = await MatrixClient.RegisteredAsync(address);
        using var bob = await MatrixClient.RegisteredAsync(address);
        using var carol = await MatrixClient.RegisteredAsync(address);
        (await alice.PutAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(alice.UserId)}/status",
            new JsonObject { ["presence"] = "unavailable", ["status_msg"] = "set before bob joined" })).Status.Should().Be(200);
        (await carol.PutAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(carol.UserId)}/status",
            new JsonObject { ["presence"] = "online", ["status_msg"] = "carol's old status" })).Status.Should().Be(200);
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        // Bob's token is taken after both presence changes: only the joins can bring them.
        var since = (await bob.SyncAsync(query: "&set_presence=offline"))["next_batch"]!.GetValue<string>();

        static JsonNode? PresenceOf(JsonObject s, string user) =>
            s["presence"]!["events"]!.AsArray().LastOrDefault(e => e!["sender"]!.GetValue<string>() == user)?["content"];
        await bob.JoinAsync(room);
        var joined = await bob.SyncUntilAsync(since, s => Joined(s, room) is not null, "&set_presence=offline");
        PresenceOf(joined, alice.UserId)?["status_msg"]?.GetValue<string>().Should().Be("set before bob joined",
            "a room just joined brings its members' presence: {0}", joined["presence"]!.ToJsonString());
        PresenceOf(joined, carol.UserId).Should().BeNull("carol shares no room with bob");

        since = joined["next_batch"]!.GetValue<string>();
        await carol.JoinAsync(room);
        var next = await bob.SyncUntilAsync(since, s => Joined(s, room)?["timeline"]?["events"]?.AsArray()
            .Any(e => e!["state_key"]?.GetValue<string>() == carol.UserId) ?? false, "&set_presence=offline");
        PresenceOf(next, carol.UserId)?["status_msg"]?.GetValue<string>().Should().Be("carol's old status",
            "a member who just joined one of bob's rooms brings their presence: {0}", next["presence"]!.ToJsonString());
    }

    [Fact]
    public async Task A_sync_whose_filter_hides_presence_waits_on_through_presence_changes_and_answers_the_next_message()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var filter = Uri.EscapeDataString("""{"presence":{"types":[]}}""");
        var since = (await bob.GetAsync($"/_matrix/client/v3/sync?filter={filter}&set_presence=offline")).Body["next_batch"]!.GetValue<string>();
        var skippedBefore = await SkippedWakesAsync();

        var poll = bob.GetAsync($"/_matrix/client/v3/sync?filter={filter}&set_presence=offline&since={since}&timeout=60000");
        // Bob's host follows the room once his sync is waiting; then alice's presence changes wake it for nothing it shows.
        for (var i = 0; i < 50 && await SkippedWakesAsync() == skippedBefore; i++)
        {
            (await alice.PutAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(alice.UserId)}/status",
                new JsonObject { ["presence"] = i % 2 == 0 ? "unavailable" : "online" })).Status.Should().Be(200);
            await Task.Delay(100);
        }
        (await SkippedWakesAsync()).Should().BeGreaterThan(skippedBefore, "presence hints reach a sync that hides presence, which waits on");
        poll.IsCompleted.Should().BeFalse("nothing the filter shows has happened");

        var sent = (await alice.PutAsync($"/_matrix/client/v3/rooms/{room}/send/m.room.message/{Guid.NewGuid():N}",
            new JsonObject { ["msgtype"] = "m.text", ["body"] = "now" })).Body["event_id"]!.GetValue<string>();
        var answer = (await poll).Body;
        Joined(answer, room)!["timeline"]!["events"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).Should().Contain(sent);
        answer["presence"]!["events"]!.AsArray().Should().BeEmpty();

        // The presence filter's limit caps the section (here: nothing at all, however much changed).
        var limited = Uri.EscapeDataString("""{"presence":{"limit":0}}""");
        (await bob.GetAsync($"/_matrix/client/v3/sync?filter={limited}&set_presence=offline&since={since}")).Body["presence"]!["events"]!
            .AsArray().Should().BeEmpty();
    }

    private async Task<long> SkippedWakesAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Cluster.ApiHosts[0].BaseAddress };
        var line = (await http.GetStringAsync("/metrics")).Split('\n').FirstOrDefault(l => l.StartsWith("sync_wakes_skipped_total ", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Push_rules_are_edited_ordered_and_announced_in_sync_account_data()
    {
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var since = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        const string rules = "/_matrix/client/v3/pushrules/global";
        (await alice.PutAsync($"{rules}/override/second", new JsonObject { ["actions"] = new JsonArray("notify"), ["conditions"] = new JsonArray() })).Status.Should().Be(200);
        (await alice.PutAsync($"{rules}/override/first?before=second", new JsonObject { ["actions"] = new JsonArray() })).Status.Should().Be(200);
        (await alice.PutAsync($"{rules}/content/cats", new JsonObject { ["pattern"] = "cat*", ["actions"] = new JsonArray("notify") })).Status.Should().Be(200);
        (await alice.PutAsync($"{rules}/underride/.m.rule.message/enabled", new JsonObject { ["enabled"] = false })).Status.Should().Be(200);

        var all = (await alice.GetAsync("/_matrix/client/v3/pushrules/")).Body["global"]!;
        all["override"]!.AsArray().Select(r => r!["rule_id"]!.GetValue<string>()).Take(3).Should().Equal(".m.rule.master", "first", "second");
        all["underride"]!.AsArray().Single(r => r!["rule_id"]!.GetValue<string>() == ".m.rule.message")!["enabled"]!.GetValue<bool>().Should().BeFalse();
        (await alice.GetAsync($"{rules}/content/cats/actions")).Body["actions"]!.AsArray().Should().HaveCount(1);

        var sync = await alice.SyncUntilAsync(since, s => s["account_data"]!["events"]!.AsArray().Any(e => e!["type"]!.GetValue<string>() == "m.push_rules" &&
            e["content"]!["global"]!["content"]!.AsArray().Any(r => r!["rule_id"]!.GetValue<string>() == "cats")));
        sync.Should().NotBeNull();

        (await alice.DeleteAsync($"{rules}/override/first")).Status.Should().Be(200);
        (await alice.GetAsync($"{rules}/override/first")).Status.Should().Be(404);
        (await alice.DeleteAsync($"{rules}/override/.m.rule.master")).Body["errcode"]!.GetValue<string>().Should().Be("M_INVALID_PARAM");
        (await alice.PutAsync($"{rules}/override/x?before=nope", new JsonObject { ["actions"] = new JsonArray() })).Status.Should().Be(400, "the spec's answer for a missing before/after rule");
        (await alice.PutAsync($"{rules}/sideways/x", new JsonObject { ["actions"] = new JsonArray() })).Status.Should().Be(400);
        (await alice.PutAsync($"{rules}/override/x", new JsonObject())).Body["errcode"]!.GetValue<string>().Should().Be("M_INVALID_PARAM");
    }

    [Fact]
    public async Task A_user_who_leaves_sees_the_room_in_the_leave_section_ending_at_their_leave()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var since = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "bye bob" });
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/leave", new JsonObject())).Status.Should().Be(200);
        var afterLeave = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "after" });

        var sync = await bob.SyncUntilAsync(since, s => s["rooms"]!["leave"]![room] is not null);
        var timeline = sync["rooms"]!["leave"]![room]!["timeline"]!["events"]!.AsArray();
        timeline.Last()!["type"]!.GetValue<string>().Should().Be("m.room.member");
        timeline.Last()!["content"]!["membership"]!.GetValue<string>().Should().Be("leave");
        timeline.Should().NotContain(e => e!["event_id"]!.GetValue<string>() == afterLeave);
        Joined(sync, room).Should().BeNull();

        // An initial sync shows left rooms only when the filter asks.
        (await bob.SyncAsync())["rooms"]!["leave"]!.AsObject().ContainsKey(room).Should().BeFalse();
        (await bob.SyncAsync(query: "&filter=" + Uri.EscapeDataString("""{"room":{"include_leave":true}}""")))["rooms"]!["leave"]![room].Should().NotBeNull();
    }

    [Fact]
    public async Task Summary_lazy_loading_and_filters_shape_the_joined_room()
    {
        var (alice, bob, room) = await TwoInARoomAsync(new JsonObject { ["name"] = "shaped" });
        using var _ = alice;
        using var __ = bob;
        using var carol = NewClient();
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await alice.PostAsync($"/_matrix/client/v3/rooms/{room}/invite", new JsonObject { ["user_id"] = carol.UserId });
        for (var i = 0; i < 3; i++) await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = $"m{i}" });
        await alice.PutAsync($"/_matrix/client/v3/rooms/{room}/send/m.reaction/{Guid.NewGuid():N}", new JsonObject());

        var initial = await bob.SyncAsync();
        var summary = Joined(initial, room)!["summary"]!;
        summary["m.joined_member_count"]!.GetValue<int>().Should().Be(2);
        summary["m.invited_member_count"]!.GetValue<int>().Should().Be(1);
        summary["m.heroes"]!.AsArray().Select(h => h!.GetValue<string>()).Should().BeEquivalentTo([alice.UserId, carol.UserId]);

        var filter = """{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":3,"not_types":["m.reaction"]}}}""";
        var lazy = await bob.SyncAsync(query: "&filter=" + Uri.EscapeDataString(filter));
        var joined = Joined(lazy, room)!;
        var members = joined["state"]!["events"]!.AsArray().Where(e => e!["type"]!.GetValue<string>() == "m.room.member")
            .Select(e => e!["state_key"]!.GetValue<string>()).ToList();
        members.Should().Contain([alice.UserId, bob.UserId]);
        members.Should().NotContain(carol.UserId, "carol sent nothing in the timeline");
        joined["timeline"]!["events"]!.AsArray().Should().NotContain(e => e!["type"]!.GetValue<string>() == "m.reaction");

        var onlyOtherRooms = await bob.SyncAsync(query: "&filter=" + Uri.EscapeDataString(new JsonObject { ["room"] = new JsonObject { ["not_rooms"] = new JsonArray(room) } }.ToJsonString()));
        Joined(onlyOtherRooms, room).Should().BeNull();
        var noTimelineHere = await bob.SyncAsync(query: "&filter=" + Uri.EscapeDataString(new JsonObject
        {
            ["room"] = new JsonObject { ["timeline"] = new JsonObject { ["not_rooms"] = new JsonArray(room) } },
        }.ToJsonString()));
        Joined(noTimelineHere, room)!["timeline"]!["events"]!.AsArray().Should().BeEmpty("the timeline filter leaves this room out");
        Joined(noTimelineHere, room)!["state"]!["events"]!.AsArray().Should().NotBeEmpty("the state filter does not");
        (await bob.GetAsync("/_matrix/client/v3/sync?filter=" + Uri.EscapeDataString("""{"room":{"timeline":{"limit":"ten"}}}"""))).Status.Should().Be(400);
        (await bob.GetAsync("/_matrix/client/v3/sync?set_presence=sleeping")).Status.Should().Be(400);
    }

    [Fact]
    public async Task Thread_replies_count_apart_when_asked_and_notifications_list_them()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var root = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "root" });
        var reply = await alice.SendMessageAsync(room, new JsonObject
        {
            ["msgtype"] = "m.text", ["body"] = "in thread", ["m.mentions"] = new JsonObject { ["user_ids"] = new JsonArray(bob.UserId) },
            ["m.relates_to"] = new JsonObject { ["rel_type"] = "m.thread", ["event_id"] = root },
        });
        var filter = "&filter=" + Uri.EscapeDataString("""{"room":{"timeline":{"unread_thread_notifications":true}}}""");
        // Initial syncs until both events are committed on every writer.
        var sync = await bob.SyncAsync(query: filter);
        for (var i = 0; i < 50 && Joined(sync, room)?["unread_thread_notifications"]?[root] is null; i++)
        {
            await Task.Delay(50);
            sync = await bob.SyncAsync(query: filter);
        }
        Counts(sync, room)["notification_count"]!.GetValue<int>().Should().Be(1, "the root is in the main timeline");
        var thread = Joined(sync, room)!["unread_thread_notifications"]![root]!;
        thread["notification_count"]!.GetValue<int>().Should().Be(1);
        thread["highlight_count"]!.GetValue<int>().Should().Be(1);

        var notifications = (await bob.GetAsync("/_matrix/client/v3/notifications?limit=1")).Body;
        notifications["notifications"]!.AsArray().Single()!["event"]!["event_id"]!.GetValue<string>().Should().Be(reply);
        var next = notifications["next_token"]!.GetValue<string>();
        var older = (await bob.GetAsync($"/_matrix/client/v3/notifications?from={next}")).Body["notifications"]!.AsArray();
        older.Select(n => n!["event"]!["event_id"]!.GetValue<string>()).Should().Contain(root);
        (await bob.GetAsync("/_matrix/client/v3/notifications?only=highlight")).Body["notifications"]!.AsArray()
            .Select(n => n!["event"]!["event_id"]!.GetValue<string>()).Should().Equal(reply);
    }

    [Fact]
    public async Task A_user_who_shares_no_room_any_more_is_in_device_lists_left()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var initial = await alice.SyncAsync();
        var since = initial["next_batch"]!.GetValue<string>();
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/leave", new JsonObject())).Status.Should().Be(200);
        var sync = await alice.SyncUntilAsync(since, s => s["device_lists"]!["left"]!.AsArray().Any(u => u!.GetValue<string>() == bob.UserId));
        sync["device_lists"]!["changed"]!.AsArray().Should().NotContain(u => u!.GetValue<string>() == bob.UserId);
    }

    [Fact]
    public async Task The_user_directory_finds_room_peers_and_public_room_members_but_not_strangers()
    {
        var (alice, bob, _) = await TwoInARoomAsync();
        using var __ = alice;
        using var ___ = bob;
        using var stranger = NewClient();
        var strangerName = MatrixClient.NewUserName();
        await stranger.RegisterAsync(strangerName, "pw");
        using var publicMember = NewClient();
        await publicMember.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await publicMember.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });

        async Task<List<string>> Search(string term) => (await alice.PostAsync("/_matrix/client/v3/user_directory/search",
            new JsonObject { ["search_term"] = term })).Body["results"]!.AsArray().Select(r => r!["user_id"]!.GetValue<string>()).ToList();
        (await Search(bob.UserId[1..8])).Should().Contain(bob.UserId);
        (await Search(publicMember.UserId[1..8])).Should().Contain(publicMember.UserId);
        (await Search(strangerName)).Should().BeEmpty();
        (await alice.PostAsync("/_matrix/client/v3/user_directory/search", new JsonObject())).Status.Should().Be(400);
    }

    [Fact]
    public async Task A_timeline_types_filter_applies_before_the_limit_and_hidden_state_changes_still_come_in_state()
    {
        var (alice, bob, room) = await TwoInARoomAsync();
        using var _ = alice;
        using var __ = bob;
        var first = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "one" });
        var second = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "two" });
        for (var i = 0; i < 3; i++)
        {
            (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/send/com.example.noise/n{i}", "{}")).Status.Should().Be(200);
        }
        var filter = "&filter=" + Uri.EscapeDataString("""{"room":{"timeline":{"types":["m.room.message"],"limit":2}}}""");
        var initial = await bob.SyncAsync(query: filter);
        var ids = Joined(initial, room)!["timeline"]!["events"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).ToList();
        ids.Should().Equal([first, second], "two messages, though the last events of the room are of another type");

        var token = initial["next_batch"]!.GetValue<string>();
        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/state/m.room.topic", """{"topic":"hidden from the timeline"}"""))
            .Status.Should().Be(200);
        var incremental = await bob.SyncUntilAsync(token, s => Joined(s, room) is not null, filter);
        Joined(incremental, room)!["timeline"]!["events"]!.AsArray().Should().BeEmpty();
        Joined(incremental, room)!["state"]!["events"]!.AsArray().Should()
            .Contain(e => e!["type"]!.GetValue<string>() == "m.room.topic" && e["content"]!["topic"]!.GetValue<string>() == "hidden from the timeline");

        var messages = await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=2&filter=" +
            Uri.EscapeDataString("""{"types":["m.room.message"]}"""));
        messages.Body["chunk"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal(second, first);
        var noisy = await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=5&filter=" +
            Uri.EscapeDataString("""{"types":["com.example.*"],"not_types":["m.*"]}"""));
        noisy.Body["chunk"]!.AsArray().Should().HaveCount(3).And.OnlyContain(e => e!["type"]!.GetValue<string>() == "com.example.noise");
        var underscore = await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&filter=" +
            Uri.EscapeDataString("""{"types":["com_example.noise"]}"""));
        underscore.Body["chunk"]!.AsArray().Should().BeEmpty("'_' is a literal in a filter type, not a LIKE wildcard");
    }

    [Fact]
    public async Task Ignored_users_events_and_invites_are_not_sent_but_their_state_events_are()
    {
        var (alice, bob, room) = await TwoInARoomAsync(new JsonObject { ["preset"] = "public_chat" });
        using var _ = alice;
        using var __ = bob;
        using var carol = NewClient();
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.JoinAsync(room);
        (await bob.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/user/{bob.UserId}/account_data/m.ignored_user_list",
            new JsonObject { ["ignored_users"] = new JsonObject { [carol.UserId!] = new JsonObject() } }.ToJsonString())).Status.Should().Be(200);
        var token = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();

        var fromCarol = await carol.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "ignored" });
        (await carol.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/profile/{carol.UserId}/displayname", """{"displayname":"Carol"}""")).Status.Should().Be(200);
        var ignoredInvite = await carol.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        var fromAlice = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "seen" });
        var welcomeInvite = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });

        var sync = await bob.SyncUntilAsync(token, s => s["rooms"]?["invite"]?[welcomeInvite] is not null &&
            Joined(s, room)?["timeline"]?["events"]?.AsArray().Any(e => e!["event_id"]!.GetValue<string>() == fromAlice) == true);
        var timeline = Joined(sync, room)!["timeline"]!["events"]!.AsArray();
        timeline.Should().NotContain(e => e!["event_id"]!.GetValue<string>() == fromCarol);
        timeline.Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.member" && e["sender"]!.GetValue<string>() == carol.UserId &&
            e["content"]!["displayname"]!.GetValue<string>() == "Carol", "state events of ignored users still come");
        sync["rooms"]!["invite"]!.AsObject().ContainsKey(ignoredInvite).Should().BeFalse();

        var history = (await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=20")).Body["chunk"]!.AsArray();
        history.Should().NotContain(e => e!["event_id"]!.GetValue<string>() == fromCarol);
        history.Should().Contain(e => e!["event_id"]!.GetValue<string>() == fromAlice);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=20")).Body["chunk"]!.AsArray()
            .Should().Contain(e => e!["event_id"]!.GetValue<string>() == fromCarol, "only bob ignores carol");
    }
}
