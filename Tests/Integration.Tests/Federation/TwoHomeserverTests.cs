using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Users of two instances of this server in one room (client-server "Joining rooms" with <c>via</c> and
/// aliases of other servers; server-server "Joining Rooms", "Transactions"): a user joins a room of the
/// other server through it, by alias or by ID, and messages then flow both ways through each server's
/// federation sender and the other's <c>/send</c>.
/// </summary>
public sealed class TwoHomeserverTests(TwoHomeserversFixture servers) : IClassFixture<TwoHomeserversFixture>
{
    private static IEnumerable<JsonObject> Timeline(JsonObject sync, string roomId) =>
        (sync["rooms"]?["join"]?[roomId]?["timeline"]?["events"] as JsonArray ?? []).OfType<JsonObject>();

    private static IEnumerable<JsonObject> State(JsonObject sync, string roomId) =>
        (sync["rooms"]?["join"]?[roomId]?["state"]?["events"] as JsonArray ?? []).OfType<JsonObject>();

    private static bool Has(IEnumerable<JsonObject> events, string type, Func<JsonObject, bool>? match = null) =>
        events.Any(e => e["type"]?.GetValue<string>() == type && (match is null || match(e)));

    private static async Task<JsonObject> WaitForAsync(MatrixClient client, string since, string roomId, Func<JsonObject, bool> match, string what)
    {
        try
        {
            return await client.SyncUntilAsync(since, s => Timeline(s, roomId).Any(match));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{client.UserId} never saw {what} in {roomId}.");
        }
    }

    [Fact]
    public async Task A_user_joins_a_room_of_the_other_server_by_its_alias_and_messages_flow_both_ways()
    {
        var bob = await servers.Second.NewUserAsync();
        var aliasName = "fed" + Guid.NewGuid().ToString("N")[..8];
        var roomId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat", ["room_alias_name"] = aliasName, ["name"] = "Over there" });
        await bob.SendTextAsync(roomId, "before alice");
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();

        var alice = await servers.First.NewUserAsync();
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString($"#{aliasName}:{servers.Second.ServerName}")}", new JsonObject());
        status.Should().Be(200, body.ToJsonString());
        body["room_id"]!.GetValue<string>().Should().Be(roomId);

        var sync = await alice.SyncAsync();
        var seen = State(sync, roomId).Concat(Timeline(sync, roomId)).ToList();
        Has(seen, "m.room.create").Should().BeTrue("the room's state comes with the join: {0}", sync["rooms"]?.ToJsonString());
        Has(seen, "m.room.name", e => e["content"]?["name"]?.GetValue<string>() == "Over there").Should().BeTrue();
        Has(seen, "m.room.member", e => e["state_key"]?.GetValue<string>() == bob.UserId).Should().BeTrue();
        Has(Timeline(sync, roomId), "m.room.member", e => e["state_key"]?.GetValue<string>() == alice.UserId &&
            e["content"]?["membership"]?.GetValue<string>() == "join").Should().BeTrue("her join is in her timeline");
        var aliceSince = sync["next_batch"]!.GetValue<string>();

        await WaitForAsync(bob, bobSince, roomId, e => e["type"]?.GetValue<string>() == "m.room.member" &&
            e["state_key"]?.GetValue<string>() == alice.UserId, "alice's join");
        var (membersStatus, members) = await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/joined_members");
        membersStatus.Should().Be(200);
        members["joined"]!.AsObject().Select(m => m.Key).Should().BeEquivalentTo([bob.UserId, alice.UserId]);

        var fromBob = await bob.SendTextAsync(roomId, "hello from the second server");
        await WaitForAsync(alice, aliceSince, roomId, e => e["event_id"]?.GetValue<string>() == fromBob, "bob's message");

        bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var fromAlice = await alice.SendTextAsync(roomId, "hello from the first server");
        var bobs = await WaitForAsync(bob, bobSince, roomId, e => e["event_id"]?.GetValue<string>() == fromAlice, "alice's message");
        Timeline(bobs, roomId).Single(e => e["event_id"]?.GetValue<string>() == fromAlice)["sender"]!.GetValue<string>().Should().Be(alice.UserId);
    }

    [Fact]
    public async Task A_user_of_the_other_server_in_a_shared_room_is_found_in_the_user_directory_with_the_name_the_room_shows()
    {
        var bob = await servers.Second.NewUserAsync();
        var name = "Bob " + Guid.NewGuid().ToString("N")[..8];
        (await bob.PutAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString(bob.UserId)}/displayname", new JsonObject { ["displayname"] = name }))
            .Status.Should().Be(200);
        var roomId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat" });
        var alice = await servers.First.NewUserAsync();
        var carol = await servers.First.NewUserAsync();
        async Task<JsonArray> SearchAsync(MatrixClient searcher) => (await searcher.PostAsync("/_matrix/client/v3/user_directory/search",
            new JsonObject { ["search_term"] = name[4..] })).Body["results"]!.AsArray();
        (await SearchAsync(alice)).Should().BeEmpty("no room of this server has bob yet");

        (await bob.PostAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/invite", new JsonObject { ["user_id"] = alice.UserId })).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(async () => (await alice.SyncAsync())["rooms"]?["invite"]?[roomId] is not null, "alice's invite");
        (await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(roomId)}", new JsonObject())).Status.Should().Be(200);

        var found = (await SearchAsync(alice)).Should().ContainSingle().Subject!;
        found["user_id"]!.GetValue<string>().Should().Be(bob.UserId);
        found["display_name"]!.GetValue<string>().Should().Be(name);
        (await SearchAsync(carol)).Should().BeEmpty("carol shares no room with bob, and the room is not public");
    }

    [Fact]
    public async Task A_room_of_the_other_server_is_joined_by_id_through_via_or_its_own_server_and_a_second_local_user_joins_locally()
    {
        var bob = await servers.Second.NewUserAsync();
        var roomId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });

        var alice = await servers.First.NewUserAsync();
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(roomId)}?via={Uri.EscapeDataString(servers.Second.ServerName)}",
            new JsonObject());
        status.Should().Be(200, body.ToJsonString());

        // The room ID names its server: no via needed. This server is in the room now, so the join is made here.
        var carol = await servers.First.NewUserAsync();
        await carol.JoinAsync(roomId);
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var fromCarol = await carol.SendTextAsync(roomId, "carol here");
        await WaitForAsync(bob, bobSince, roomId, e => e["event_id"]?.GetValue<string>() == fromCarol, "carol's message");
        var (_, members) = await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/joined_members");
        members["joined"]!.AsObject().Select(m => m.Key).Should().BeEquivalentTo([bob.UserId, alice.UserId, carol.UserId]);
    }

    [Fact]
    public async Task A_remote_room_that_refuses_the_join_or_cannot_be_reached_gives_the_client_a_matrix_error()
    {
        var bob = await servers.Second.NewUserAsync();
        var privateRoom = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat" });
        var alice = await servers.First.NewUserAsync();

        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/rooms/{privateRoom}/join", new JsonObject());
        status.Should().Be(403, body.ToJsonString());
        body["errcode"]!.GetValue<string>().Should().Be("M_FORBIDDEN");

        var unknown = $"!nosuchroom:{servers.Second.ServerName}";
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(unknown)}", new JsonObject());
        status.Should().Be(404, body.ToJsonString());
        body["errcode"]!.GetValue<string>().Should().Be("M_NOT_FOUND");

        // Nothing listens on port 1: the server is unreachable, which is the server's failure, not the client's.
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString("!x:127.0.0.1:1")}", new JsonObject());
        status.Should().Be(502, body.ToJsonString());
        body["errcode"]!.GetValue<string>().Should().Be("M_UNKNOWN");

        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString($"#nosuchalias:{servers.Second.ServerName}")}", new JsonObject());
        status.Should().Be(404, body.ToJsonString());

        var (syncStatus, sync) = await alice.GetAsync("/_matrix/client/v3/sync?timeout=0");
        syncStatus.Should().Be(200);
        (sync["rooms"]?["join"] as JsonObject ?? []).Should().BeEmpty("no failed join leaves a room behind");
    }

    /// <summary>A public room of bob's on the second server that alice of the first has joined.</summary>
    private async Task<(MatrixClient Alice, MatrixClient Bob, string RoomId)> SharedRoomAsync()
    {
        var bob = await servers.Second.NewUserAsync();
        var roomId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var alice = await servers.First.NewUserAsync();
        await alice.JoinAsync(roomId);
        return (alice, bob, roomId);
    }

    private static IEnumerable<JsonObject> Ephemeral(JsonObject sync, string roomId) =>
        (sync["rooms"]?["join"]?[roomId]?["ephemeral"]?["events"] as JsonArray ?? []).OfType<JsonObject>();

    [Fact]
    public async Task Typing_and_public_read_receipts_reach_the_other_server_and_private_receipts_do_not()
    {
        var (alice, bob, roomId) = await SharedRoomAsync();
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var (status, _) = await alice.PutAsync($"/_matrix/client/v3/rooms/{roomId}/typing/{alice.UserId}", new JsonObject { ["typing"] = true, ["timeout"] = 30000 });
        status.Should().Be(200);
        await bob.SyncUntilAsync(bobSince, s => Ephemeral(s, roomId).Any(e => e["type"]?.GetValue<string>() == "m.typing" &&
            (e["content"]?["user_ids"] as JsonArray ?? []).Any(u => u?.GetValue<string>() == alice.UserId)));

        bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        (status, _) = await alice.PutAsync($"/_matrix/client/v3/rooms/{roomId}/typing/{alice.UserId}", new JsonObject { ["typing"] = false });
        status.Should().Be(200);
        await bob.SyncUntilAsync(bobSince, s => Ephemeral(s, roomId).Any(e => e["type"]?.GetValue<string>() == "m.typing" &&
            !(e["content"]?["user_ids"] as JsonArray ?? []).Any(u => u?.GetValue<string>() == alice.UserId)));

        var message = await alice.SendTextAsync(roomId, "read me");
        await WaitForAsync(bob, bobSince, roomId, e => e["event_id"]?.GetValue<string>() == message, "alice's message");
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        (status, _) = await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/receipt/m.read.private/{Uri.EscapeDataString(message)}", new JsonObject());
        status.Should().Be(200);
        (status, _) = await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/receipt/m.read/{Uri.EscapeDataString(message)}", new JsonObject());
        status.Should().Be(200);
        var aliceSaw = await alice.SyncUntilAsync(aliceSince, s => Ephemeral(s, roomId).Any(e => e["type"]?.GetValue<string>() == "m.receipt" &&
            e["content"]?[message]?["m.read"]?[bob.UserId]?["ts"] is not null));
        Ephemeral(aliceSaw, roomId).Where(e => e["type"]?.GetValue<string>() == "m.receipt")
            .Any(e => e["content"]?[message]?["m.read.private"] is not null).Should().BeFalse("a private receipt never leaves its server");
    }

    /// <summary>The user's membership as a sync section shows it: the last in the timeline, else in the state.</summary>
    private static string? MembershipIn(JsonObject sync, string section, string roomId, string userId)
    {
        var room = sync["rooms"]?[section]?[roomId];
        var events = (room?["state"]?["events"] as JsonArray ?? []).Concat(room?["timeline"]?["events"] as JsonArray ?? []).OfType<JsonObject>();
        return events.LastOrDefault(e => e["type"]?.GetValue<string>() == "m.room.member" && e["state_key"]?.GetValue<string>() == userId)?
            ["content"]?["membership"]?.GetValue<string>();
    }

    [Fact]
    public async Task A_user_invited_from_the_other_server_sees_the_invite_with_its_stripped_state_joins_and_talks()
    {
        var alice = await servers.First.NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat", ["name"] = "Invite only" });
        var bob = await servers.Second.NewUserAsync();
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();

        await alice.InviteAsync(roomId, bob.UserId);
        var invited = await bob.SyncUntilAsync(bobSince, s => s["rooms"]?["invite"]?[roomId] is not null);
        var inviteState = (invited["rooms"]!["invite"]![roomId]!["invite_state"]!["events"] as JsonArray)!.OfType<JsonObject>().ToList();
        Has(inviteState, "m.room.name", e => e["content"]?["name"]?.GetValue<string>() == "Invite only").Should().BeTrue(invited.ToJsonString());
        Has(inviteState, "m.room.create").Should().BeTrue();
        Has(inviteState, "m.room.join_rules").Should().BeTrue();
        inviteState.Single(e => e["type"]?.GetValue<string>() == "m.room.member" && e["state_key"]?.GetValue<string>() == bob.UserId)["sender"]!
            .GetValue<string>().Should().Be(alice.UserId);
        var (_, aliceMembers) = await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/members");
        (aliceMembers["chunk"] as JsonArray)!.OfType<JsonObject>().Should().Contain(e => e["state_key"]!.GetValue<string>() == bob.UserId &&
            e["content"]!["membership"]!.GetValue<string>() == "invite", "the invite signed by both servers is in the room");

        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        await bob.JoinAsync(roomId);
        await WaitForAsync(alice, aliceSince, roomId, e => e["type"]?.GetValue<string>() == "m.room.member" &&
            e["state_key"]?.GetValue<string>() == bob.UserId && e["content"]?["membership"]?.GetValue<string>() == "join", "bob's join");
        var bobSync = await bob.SyncAsync();
        Has(State(bobSync, roomId).Concat(Timeline(bobSync, roomId)), "m.room.name").Should().BeTrue("the joined room's full state replaces the stripped state");
        bobSync["rooms"]?["invite"]?[roomId].Should().BeNull();

        aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var fromBob = await bob.SendTextAsync(roomId, "thanks for the invite");
        await WaitForAsync(alice, aliceSince, roomId, e => e["event_id"]?.GetValue<string>() == fromBob, "bob's message");
    }

    [Fact]
    public async Task A_user_rejects_an_invite_from_the_other_server_and_the_inviter_sees_the_rejection()
    {
        var alice = await servers.First.NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat" });
        var bob = await servers.Second.NewUserAsync();
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        await alice.InviteAsync(roomId, bob.UserId);
        bobSince = (await bob.SyncUntilAsync(bobSince, s => s["rooms"]?["invite"]?[roomId] is not null))["next_batch"]!.GetValue<string>();

        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        await bob.LeaveAsync(roomId);
        await WaitForAsync(alice, aliceSince, roomId, e => e["type"]?.GetValue<string>() == "m.room.member" &&
            e["state_key"]?.GetValue<string>() == bob.UserId && e["content"]?["membership"]?.GetValue<string>() == "leave", "bob's rejection");
        var left = await bob.SyncUntilAsync(bobSince, s => s["rooms"]?["leave"]?[roomId] is not null);
        MembershipIn(left, "leave", roomId, bob.UserId).Should().Be("leave", left["rooms"]!["leave"]!.ToJsonString());
        (await bob.SyncAsync())["rooms"]?["invite"]?[roomId].Should().BeNull("the invite is gone");

        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", new JsonObject { ["user_id"] = $"@nobody-here:{servers.Second.ServerName}" });
        status.Should().Be(404, body.ToJsonString());
    }

    [Fact]
    public async Task A_ban_on_one_server_reaches_the_banned_user_on_the_other_who_cannot_rejoin()
    {
        var (alice, bob, roomId) = await SharedRoomAsync();
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var (status, body) = await bob.PostAsync($"/_matrix/client/v3/rooms/{roomId}/ban", new JsonObject { ["user_id"] = alice.UserId, ["reason"] = "testing" });
        status.Should().Be(200, body.ToJsonString());
        var banned = await alice.SyncUntilAsync(aliceSince, s => s["rooms"]?["leave"]?[roomId] is not null);
        MembershipIn(banned, "leave", roomId, alice.UserId).Should().Be("ban", banned["rooms"]!["leave"]!.ToJsonString());

        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(roomId)}", new JsonObject());
        status.Should().Be(403, body.ToJsonString());
    }

    [Fact]
    public async Task What_was_sent_while_the_other_server_was_down_arrives_after_it_restarts()
    {
        var (alice, bob, roomId) = await SharedRoomAsync();
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var first = await alice.SendTextAsync(roomId, "before the outage");
        bobSince = (await WaitForAsync(bob, bobSince, roomId, e => e["event_id"]?.GetValue<string>() == first, "the first message"))["next_batch"]!.GetValue<string>();

        var second = servers.Second.Cluster;
        await second.StopApiHostAsync(second.ApiHosts[0]);
        await second.KillSiloAsync(second.Silos[0]);
        var sent = new List<string>();
        for (var i = 0; i < 15; i++) sent.Add(await alice.SendTextAsync(roomId, $"during the outage {i}"));
        await Task.Delay(TimeSpan.FromSeconds(2));
        await second.RestartSiloAsync(second.Silos[0]);
        await second.StartApiHostAgainAsync(second.ApiHosts[0]);

        // Catch-up sends the room's latest event; the rest comes by get_missing_events, often all in one sync,
        // so the timeline must hold more than the default 10.
        var seen = new HashSet<string>();
        var wideTimeline = "&filter=" + Uri.EscapeDataString("""{"room":{"timeline":{"limit":50}}}""");
        await bob.SyncUntilAsync(bobSince, s =>
        {
            seen.UnionWith(Timeline(s, roomId).Select(e => e["event_id"]?.GetValue<string>() ?? ""));
            return sent.All(seen.Contains);
        }, wideTimeline);
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var fromBob = await bob.SendTextAsync(roomId, "back again");
        await WaitForAsync(alice, aliceSince, roomId, e => e["event_id"]?.GetValue<string>() == fromBob, "bob's message after the restart");
    }

    [Fact]
    public async Task Keys_of_a_user_of_the_other_server_are_queried_and_claimed_and_to_device_messages_reach_their_device()
    {
        var (alice, bob, _) = await SharedRoomAsync();
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var (status, body) = await bob.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject
        {
            ["device_keys"] = new JsonObject
            {
                ["user_id"] = bob.UserId,
                ["device_id"] = bob.DeviceId,
                ["algorithms"] = new JsonArray("m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"),
                ["keys"] = new JsonObject { [$"curve25519:{bob.DeviceId}"] = "curve-bob", [$"ed25519:{bob.DeviceId}"] = "ed-bob" },
                ["signatures"] = new JsonObject { [bob.UserId] = new JsonObject { [$"ed25519:{bob.DeviceId}"] = "sig" } },
            },
            ["one_time_keys"] = new JsonObject { ["signed_curve25519:AAAA"] = new JsonObject { ["key"] = "otk-bob" } },
        });
        status.Should().Be(200, body.ToJsonString());
        // The new device keys reach the other server as a device-list update, which alice's sync reports.
        await alice.SyncUntilAsync(aliceSince, s => (s["device_lists"]?["changed"] as JsonArray ?? []).Any(u => u?.GetValue<string>() == bob.UserId));

        var unreachable = "@nobody:127.0.0.1:1";
        (status, body) = await alice.PostAsync("/_matrix/client/v3/keys/query", new JsonObject
        {
            ["device_keys"] = new JsonObject { [bob.UserId] = new JsonArray(), [unreachable] = new JsonArray() },
            ["timeout"] = 5000,
        });
        status.Should().Be(200, body.ToJsonString());
        body["device_keys"]![bob.UserId]![bob.DeviceId]!["keys"]![$"ed25519:{bob.DeviceId}"]!.GetValue<string>().Should().Be("ed-bob", body.ToJsonString());
        body["failures"]!["127.0.0.1:1"].Should().NotBeNull("an unreachable server is named in failures: {0}", body.ToJsonString());
        body["failures"]![servers.Second.ServerName].Should().BeNull();

        (status, body) = await alice.PostAsync("/_matrix/client/v3/keys/claim", new JsonObject
        {
            ["one_time_keys"] = new JsonObject { [bob.UserId] = new JsonObject { [bob.DeviceId] = "signed_curve25519" } },
        });
        status.Should().Be(200, body.ToJsonString());
        body["one_time_keys"]![bob.UserId]![bob.DeviceId]!["signed_curve25519:AAAA"]!["key"]!.GetValue<string>().Should().Be("otk-bob", body.ToJsonString());

        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        (status, _) = await alice.PutAsync($"/_matrix/client/v3/sendToDevice/m.room_key_request/{Guid.NewGuid():N}", new JsonObject
        {
            ["messages"] = new JsonObject { [bob.UserId] = new JsonObject { [bob.DeviceId] = new JsonObject { ["hello"] = "across servers" } } },
        });
        status.Should().Be(200);
        var got = await bob.SyncUntilAsync(bobSince, s => (s["to_device"]?["events"] as JsonArray ?? []).Count > 0);
        var message = (got["to_device"]!["events"] as JsonArray)!.OfType<JsonObject>().Single();
        message["sender"]!.GetValue<string>().Should().Be(alice.UserId);
        message["type"]!.GetValue<string>().Should().Be("m.room_key_request");
        message["content"]!["hello"]!.GetValue<string>().Should().Be("across servers");
    }

    private static async Task<string?> TopicAsync(MatrixClient client, string roomId)
    {
        var (status, body) = await client.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.topic/");
        return status == 200 ? body["topic"]?.GetValue<string>() : null;
    }

    [Fact]
    public async Task After_a_netsplit_in_which_both_servers_changed_the_same_state_both_resolve_it_alike()
    {
        var (alice, bob, roomId) = await SharedRoomAsync();
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var power = await bob.SetStateAsync(roomId, "m.room.power_levels", new JsonObject
        {
            ["users"] = new JsonObject { [bob.UserId] = 100, [alice.UserId] = 100 },
            ["state_default"] = 50,
            ["events_default"] = 0,
        });
        await WaitForAsync(alice, aliceSince, roomId, e => e["event_id"]?.GetValue<string>() == power, "the power levels");

        await servers.First.CutFederationAsync();
        await servers.Second.CutFederationAsync();
        using var aliceApart = alice.Through(servers.First.ClientOnlyAddress);
        using var bobApart = bob.Through(servers.Second.ClientOnlyAddress);
        var fromFirst = await aliceApart.SetStateAsync(roomId, "m.room.topic", new JsonObject { ["topic"] = "set on the first server" });
        var fromSecond = await bobApart.SetStateAsync(roomId, "m.room.topic", new JsonObject { ["topic"] = "set on the second server" });
        await bobApart.SendTextAsync(roomId, "said during the split");
        (await TopicAsync(aliceApart, roomId)).Should().Be("set on the first server");
        (await TopicAsync(bobApart, roomId)).Should().Be("set on the second server");

        await servers.First.RestoreFederationAsync();
        await servers.Second.RestoreFederationAsync();
        await Eventually.WaitUntilAsync(async () =>
        {
            var (a, b) = (await TopicAsync(aliceApart, roomId), await TopicAsync(bobApart, roomId));
            return a == b;
        }, "both servers to resolve the topic alike");
        (await TopicAsync(aliceApart, roomId)).Should().BeOneOf("set on the first server", "set on the second server");

        // Each holds the other's event, and what is sent next builds on both sides of the fork.
        (await aliceApart.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(fromSecond)}")).Status.Should().Be(200);
        (await bobApart.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(fromFirst)}")).Status.Should().Be(200);
        var bobSince = (await bobApart.SyncAsync())["next_batch"]!.GetValue<string>();
        var after = await aliceApart.SendTextAsync(roomId, "healed");
        await WaitForAsync(bobApart, bobSince, roomId, e => e["event_id"]?.GetValue<string>() == after, "the first message after the split");
    }

    [Fact]
    public async Task Presence_of_a_user_of_the_other_server_reaches_the_users_sharing_a_room_with_them()
    {
        var (alice, bob, _) = await SharedRoomAsync();
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var (status, body) = await bob.PutAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(bob.UserId)}/status",
            new JsonObject { ["presence"] = "unavailable", ["status_msg"] = "on the other server" });
        status.Should().Be(200, body.ToJsonString());

        var seen = await alice.SyncUntilAsync(aliceSince, s => (s["presence"]?["events"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(e => e["sender"]?.GetValue<string>() == bob.UserId && e["content"]?["presence"]?.GetValue<string>() == "unavailable"));
        var presence = (seen["presence"]!["events"] as JsonArray)!.OfType<JsonObject>().Last(e => e["sender"]?.GetValue<string>() == bob.UserId);
        presence["content"]!["status_msg"]!.GetValue<string>().Should().Be("on the other server");
        var (statusOfBob, fromFirst) = await alice.GetAsync($"/_matrix/client/v3/presence/{Uri.EscapeDataString(bob.UserId)}/status");
        statusOfBob.Should().Be(200, fromFirst.ToJsonString());
        fromFirst["presence"]!.GetValue<string>().Should().Be("unavailable");
    }

    /// <summary>
    /// The Rust-crypto run of matrix-js-sdk with alice here and bob on the other server: invite and join across,
    /// megolm messages both ways (remote key queries and claims, olm over to-device), typing and a receipt, and
    /// alice's second device learnt by bob through a device-list update.
    /// </summary>
    [Fact]
    public async Task Matrix_js_sdk_users_on_the_two_servers_exchange_encrypted_messages()
    {
        var script = Path.Combine(RepositoryPaths.Root, "Tests", "EndToEnd", "js-sdk");
        await JsSdkClientTests.RunNodeAsync(script, servers.First.ClientAddress.ToString().TrimEnd('/'), "e2ee", "", "e2ee.mjs",
            servers.Second.ClientAddress.ToString().TrimEnd('/'));
    }

    [Fact]
    public async Task A_user_knocks_on_a_room_of_the_other_server_is_let_in_by_invite_and_joins()
    {
        var bob = await servers.Second.NewUserAsync();
        var roomId = await bob.CreateRoomAsync(new JsonObject
        {
            ["preset"] = "private_chat",
            ["name"] = "Knock first",
            ["initial_state"] = new JsonArray(new JsonObject { ["type"] = "m.room.join_rules", ["state_key"] = "", ["content"] = new JsonObject { ["join_rule"] = "knock" } }),
        });
        var alice = await servers.First.NewUserAsync();
        var aliceSince = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();

        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/knock/{Uri.EscapeDataString(roomId)}", new JsonObject { ["reason"] = "let me in" });
        status.Should().Be(200, body.ToJsonString());
        body["room_id"]!.GetValue<string>().Should().Be(roomId);
        var knocked = await alice.SyncUntilAsync(aliceSince, s => s["rooms"]?["knock"]?[roomId] is not null);
        var knockState = (knocked["rooms"]!["knock"]![roomId]!["knock_state"]!["events"] as JsonArray)!.OfType<JsonObject>().ToList();
        Has(knockState, "m.room.name", e => e["content"]?["name"]?.GetValue<string>() == "Knock first").Should().BeTrue(knocked.ToJsonString());
        await WaitForAsync(bob, bobSince, roomId, e => e["type"]?.GetValue<string>() == "m.room.member" && e["state_key"]?.GetValue<string>() == alice.UserId &&
            e["content"]?["membership"]?.GetValue<string>() == "knock", "alice's knock");

        aliceSince = knocked["next_batch"]!.GetValue<string>();
        await bob.InviteAsync(roomId, alice.UserId);
        await alice.SyncUntilAsync(aliceSince, s => s["rooms"]?["invite"]?[roomId] is not null);
        await alice.JoinAsync(roomId);
        await Eventually.WaitUntilAsync(async () => (await bob.GetAsync($"/_matrix/client/v3/rooms/{roomId}/joined_members")).Body["joined"]!.AsObject()
            .ContainsKey(alice.UserId), "alice to be joined at bob's server");
    }
}
