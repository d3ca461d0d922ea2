using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A user of another server joins a room here and talks in it (server-server-api "Joining Rooms",
/// "Transactions", "Checks performed on receipt of a PDU"): make_join gives a template, send_join takes
/// the signed join and answers the state and auth chain; PDUs in /send are accepted, rejected or refused
/// per event; forks are resolved and the next local event cites every tip; events, state and auth
/// chains can be read back by the remote.
/// </summary>
public sealed class RemoteJoinTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
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

    [Fact]
    public async Task A_remote_user_joins_through_make_join_and_send_join_and_the_answer_holds_the_state_and_its_auth_chain()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;

        var (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(remote.Bob)}?ver={Version.Id}");
        status.Should().Be(200);
        var template = body!["event"]!.AsObject();
        template["type"]!.GetValue<string>().Should().Be("m.room.member");
        template["state_key"]!.GetValue<string>().Should().Be(remote.Bob);
        template["content"]!["membership"]!.GetValue<string>().Should().Be("join");
        template["prev_events"]!.AsArray().Should().HaveCount(1);

        var joinId = Finish(remote, template);
        (status, body) = await SignedAsync(remote, HttpMethod.Put,
            $"/_matrix/federation/v2/send_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(joinId)}", template);
        status.Should().Be(200, body?.ToJsonString());
        body!["origin"]!.GetValue<string>().Should().Be(FederationClusterFixture.OurServerName);
        body["members_omitted"]!.GetValue<bool>().Should().BeFalse();
        var state = body["state"]!.AsArray().Select(e => e!["type"]!.GetValue<string>()).ToList();
        state.Should().Contain(["m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.member"]);
        body["state"]!.AsArray().Should().NotContain(e => e!["state_key"]!.GetValue<string>() == remote.Bob, "the state is the state before the join");
        var chainTypes = body["auth_chain"]!.AsArray().Select(e => e!["type"]!.GetValue<string>()).ToList();
        chainTypes.Should().Contain("m.room.create");
        body["servers_in_room"]!.AsArray().Select(s => s!.GetValue<string>()).Should().Contain([FederationClusterFixture.OurServerName, remote.Keys.ServerName]);

        var (membersStatus, members) = await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/joined_members");
        membersStatus.Should().Be(200);
        members["joined"]!.AsObject().ContainsKey(remote.Bob).Should().BeTrue();

        // The same join again is taken as known, not a second time.
        (status, _) = await SignedAsync(remote, HttpMethod.Put,
            $"/_matrix/federation/v2/send_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(joinId)}", template);
        status.Should().Be(200);
    }

    [Fact]
    public async Task Make_join_refuses_other_servers_users_unknown_rooms_and_unsupported_versions()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var room = Uri.EscapeDataString(roomId);

        var (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_join/{room}/{Uri.EscapeDataString("@eve:elsewhere.example")}?ver={Version.Id}");
        status.Should().Be(403);
        (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_join/{room}/{Uri.EscapeDataString(remote.Bob)}?ver=1");
        status.Should().Be(400);
        body!["errcode"]!.GetValue<string>().Should().Be("M_INCOMPATIBLE_ROOM_VERSION");
        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString("!nothing:" + FederationClusterFixture.OurServerName)}/{Uri.EscapeDataString(remote.Bob)}?ver={Version.Id}");
        status.Should().Be(404);

        var privateRoom = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat" });
        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(privateRoom)}/{Uri.EscapeDataString(remote.Bob)}?ver={Version.Id}");
        status.Should().Be(403, "the room is invite-only");
        body!["errcode"]!.GetValue<string>().Should().Be("M_FORBIDDEN");
    }

    [Fact]
    public async Task Notifications_are_counted_for_this_servers_members_only()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        using var carol = new MatrixClient(fixture.BaseAddress);
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.JoinAsync(roomId);
        await JoinAsync(remote, roomId);

        var sent = await alice.SendTextAsync(roomId, "who is notified?");

        await using var connection = new Npgsql.NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT user_id FROM event_push_actions WHERE event_id = $1 ORDER BY user_id", connection);
        command.Parameters.Add(new() { Value = sent });
        var notified = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) notified.Add(reader.GetString(0));
        }
        notified.Should().Equal([carol.UserId], "the remote member's server evaluates its own user's push rules");
    }

    [Fact]
    public async Task Make_knock_needs_ver_and_a_knocking_room_and_send_knock_takes_only_that_knock_signed_as_made()
    {
        var (alice, _, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var roomId = await alice.CreateRoomAsync(new JsonObject
        {
            ["preset"] = "private_chat", ["name"] = "Knock here",
            ["initial_state"] = new JsonArray(new JsonObject { ["type"] = "m.room.join_rules", ["state_key"] = "", ["content"] = new JsonObject { ["join_rule"] = "knock" } }),
        });
        var publicRoom = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        string MakeKnock(string room, string user, string query) =>
            $"/_matrix/federation/v1/make_knock/{Uri.EscapeDataString(room)}/{Uri.EscapeDataString(user)}{query}";

        var (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeKnock(roomId, remote.Bob, ""));
        (status, body?["errcode"]?.GetValue<string>()).Should().Be((400, "M_MISSING_PARAM"), "ver is required: {0}", body?.ToJsonString());
        (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeKnock(roomId, remote.Bob, "?ver=6"));
        (status, body?["errcode"]?.GetValue<string>()).Should().Be((400, "M_INCOMPATIBLE_ROOM_VERSION"), body?.ToJsonString());
        (status, _) = await SignedAsync(remote, HttpMethod.Get, MakeKnock(roomId, "@eve:elsewhere.example", $"?ver={Version.Id}"));
        status.Should().Be(403, "a server knocks only for its own users");
        (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeKnock(publicRoom, remote.Bob, $"?ver={Version.Id}"));
        (status, body?["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), "a public room is joined, not knocked on: {0}", body?.ToJsonString());
        (status, _) = await SignedAsync(remote, HttpMethod.Get, MakeKnock("!nothing:" + FederationClusterFixture.OurServerName, remote.Bob, $"?ver={Version.Id}"));
        status.Should().Be(404);

        (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeKnock(roomId, remote.Bob, $"?ver=6&ver={Version.Id}"));
        status.Should().Be(200, body?.ToJsonString());
        body!["room_version"]!.GetValue<string>().Should().Be(Version.Id);
        var knock = body["event"]!.AsObject();
        knock["content"]!["membership"]!.GetValue<string>().Should().Be("knock");
        var knockId = Finish(remote, knock);
        string SendKnock(string id) => $"/_matrix/federation/v1/send_knock/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(id)}";

        var tampered = knock.DeepClone().AsObject();
        tampered["content"]!["reason"] = "added after signing";
        (status, body) = await SignedAsync(remote, HttpMethod.Put, SendKnock(knockId), tampered);
        (status, body?["errcode"]?.GetValue<string>()).Should().Be((400, "M_INVALID_PARAM"), "the content no longer matches its hash: {0}", body?.ToJsonString());
        (status, body) = await SignedAsync(remote, HttpMethod.Put, SendKnock("$not-this-one"), knock);
        (status, body?["errcode"]?.GetValue<string>()).Should().Be((400, "M_INVALID_PARAM"), "the path names another event: {0}", body?.ToJsonString());
        (status, body) = await SignedAsync(remote, HttpMethod.Put, SendKnock(knockId), new JsonArray(1));
        (status, body?["errcode"]?.GetValue<string>()).Should().Be((400, "M_BAD_JSON"), body?.ToJsonString());

        (status, body) = await SignedAsync(remote, HttpMethod.Put, SendKnock(knockId), knock);
        status.Should().Be(200, body?.ToJsonString());
        var stripped = body!["knock_room_state"]!.AsArray().Select(e => e!["type"]!.GetValue<string>()).ToList();
        stripped.Should().Contain(["m.room.create", "m.room.join_rules", "m.room.name"]);
        var (memberStatus, member) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/state/m.room.member/{Uri.EscapeDataString(remote.Bob)}");
        memberStatus.Should().Be(200);
        member["membership"]!.GetValue<string>().Should().Be("knock");
    }

    [Fact]
    public async Task Messages_in_a_transaction_are_accepted_or_refused_per_event_and_clients_see_only_the_accepted()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var (joinId, join) = await JoinAsync(remote, roomId);
        var depth = join["depth"]!.GetValue<long>() + 1;

        var hello = Message(roomId, remote.Bob, joinId, join, "hello from afar", depth);
        var helloId = Finish(remote, hello);
        var forged = Message(roomId, remote.Bob, joinId, join, "forged", depth);
        var forgedId = Finish(remote, forged);
        forged["content"]!["body"] = "tampered after signing";
        var stranger = Message(roomId, $"@carol:{remote.Keys.ServerName}", joinId, join, "not a member", depth);
        var strangerId = Finish(remote, stranger);
        var orphan = Message(roomId, remote.Bob, "$unknownprevevent", join, "gap", depth);
        var orphanId = Finish(remote, orphan);

        var results = await SendAsync(remote, hello, forged, stranger, orphan);

        results[helloId]!.AsObject().Should().BeEmpty();
        results[strangerId]!["error"].Should().NotBeNull("carol never joined");
        results[orphanId]!["error"]!.GetValue<string>().Should().Contain("prev events");
        // A content hash mismatch redacts the event rather than refusing it: its body is gone.
        var (eventStatus, seen) = await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(helloId)}");
        eventStatus.Should().Be(200);
        seen["content"]!["body"]!.GetValue<string>().Should().Be("hello from afar");
        seen["sender"]!.GetValue<string>().Should().Be(remote.Bob);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(strangerId)}")).Status.Should().Be(404);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(orphanId)}")).Status.Should().Be(404);
        if (results.ContainsKey(forgedId) && results[forgedId]!.AsObject().Count == 0)
        {
            var (_, redacted) = await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(forgedId)}");
            redacted["content"]!.AsObject().Should().BeEmpty();
        }
    }

    [Fact]
    public async Task A_bad_signature_is_refused_and_a_repeated_transaction_gets_the_same_answer()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var (joinId, join) = await JoinAsync(remote, roomId);
        var message = Message(roomId, remote.Bob, joinId, join, "signed by someone else", join["depth"]!.GetValue<long>() + 1);
        ContentHash.Add(message);
        var impostor = SigningKey.FromSeed(new byte[32], remote.Keys.Key.Version);
        EventSigning.SignEvent(message, Version, remote.Keys.ServerName, impostor);
        var id = EventIds.Compute(message, Version).ToString();
        var txn = new JsonObject { ["origin"] = remote.Keys.ServerName, ["origin_server_ts"] = 1, ["pdus"] = new JsonArray(message) };
        var uri = $"/_matrix/federation/v1/send/{Guid.NewGuid():N}";

        var (status, first) = await SignedAsync(remote, HttpMethod.Put, uri, txn);
        status.Should().Be(200);
        first!["pdus"]![id]!["error"]!.GetValue<string>().Should().Contain("does not verify");
        var (_, again) = await SignedAsync(remote, HttpMethod.Put, uri, txn);
        again!.ToJsonString().Should().Be(first.ToJsonString());

        var tooMany = new JsonObject { ["origin"] = remote.Keys.ServerName, ["pdus"] = new JsonArray([.. Enumerable.Range(0, 51).Select(_ => new JsonObject())]) };
        (status, _) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v1/send/{Guid.NewGuid():N}", tooMany);
        status.Should().Be(400);
    }

    [Fact]
    public async Task A_fork_is_resolved_and_the_next_local_event_cites_both_tips_and_the_remote_reads_events_state_and_auth()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var (joinId, join) = await JoinAsync(remote, roomId);
        var depth = join["depth"]!.GetValue<long>() + 1;
        var left = Message(roomId, remote.Bob, joinId, join, "left", depth);
        var leftId = Finish(remote, left);
        var right = Message(roomId, remote.Bob, joinId, join, "right", depth);
        right["origin_server_ts"] = right["origin_server_ts"]!.GetValue<long>() + 1;
        var rightId = Finish(remote, right);
        var results = await SendAsync(remote, left, right);
        results[leftId]!.AsObject().Should().BeEmpty();
        results[rightId]!.AsObject().Should().BeEmpty();

        var localId = await alice.SendMessageAsync(roomId, new JsonObject { ["msgtype"] = "m.text", ["body"] = "merging" });

        var (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/event/{Uri.EscapeDataString(localId)}");
        status.Should().Be(200);
        var local = body!["pdus"]!.AsArray().Single()!.AsObject();
        local["prev_events"]!.AsArray().Select(p => p!.GetValue<string>()).Should().BeEquivalentTo([leftId, rightId]);

        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/state_ids/{Uri.EscapeDataString(roomId)}?event_id={Uri.EscapeDataString(localId)}");
        status.Should().Be(200, body?.ToJsonString());
        body!["pdu_ids"]!.AsArray().Select(p => p!.GetValue<string>()).Should().Contain(joinId);
        body["auth_chain_ids"]!.AsArray().Should().NotBeEmpty();

        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/state/{Uri.EscapeDataString(roomId)}?event_id={Uri.EscapeDataString(leftId)}");
        status.Should().Be(200);
        body!["pdus"]!.AsArray().Select(p => p!["state_key"]?.GetValue<string>()).Should().Contain(remote.Bob);

        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/event_auth/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(leftId)}");
        status.Should().Be(200);
        body!["auth_chain"]!.AsArray().Select(e => e!["type"]!.GetValue<string>()).Should().Contain(["m.room.create", "m.room.member"]);

        var (_, stranger) = await fixture.NewRemote();
        using var http = new HttpClient { BaseAddress = fixture.BaseAddress };
        var uri = $"/_matrix/federation/v1/event/{Uri.EscapeDataString(localId)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation("Authorization",
            XMatrixAuthorization.Sign("GET", uri, stranger.ServerName, FederationClusterFixture.OurServerName, null, stranger.Key).ToHeaderValue());
        using var refused = await http.SendAsync(request);
        ((int)refused.StatusCode).Should().Be(403, "a server with no member in the room reads nothing of it");
    }

    [Fact]
    public async Task A_remote_user_leaves_through_make_leave_and_send_leave_v2_and_v1()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        await JoinAsync(remote, roomId);
        var room = Uri.EscapeDataString(roomId);

        var (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_leave/{room}/{Uri.EscapeDataString(remote.Bob)}");
        status.Should().Be(200, body?.ToJsonString());
        body!["room_version"]!.GetValue<string>().Should().Be(Version.Id);
        var leave = body["event"]!.AsObject();
        leave["content"]!["membership"]!.GetValue<string>().Should().Be("leave");
        leave["state_key"]!.GetValue<string>().Should().Be(remote.Bob);
        leave["sender"]!.GetValue<string>().Should().Be(remote.Bob);

        // Not a leave, or not the sender's own: refused, nothing stored.
        var notLeave = leave.DeepClone().AsObject();
        notLeave["content"] = new JsonObject { ["membership"] = "join" };
        var notLeaveId = Finish(remote, notLeave);
        (status, body) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v2/send_leave/{room}/{Uri.EscapeDataString(notLeaveId)}", notLeave);
        status.Should().Be(400);
        body!["errcode"]!.GetValue<string>().Should().Be("M_BAD_JSON");

        var leaveId = Finish(remote, leave);
        (status, body) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v2/send_leave/{room}/{Uri.EscapeDataString(Finish(remote, leave.DeepClone().AsObject()) + "x")}", leave);
        status.Should().Be(400, "the path names another event");
        (status, body) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v2/send_leave/{room}/{Uri.EscapeDataString(leaveId)}", leave);
        status.Should().Be(200, body?.ToJsonString());
        body!.AsObject().Should().BeEmpty();

        var (membersStatus, members) = await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/members?membership=leave");
        membersStatus.Should().Be(200);
        members["chunk"]!.AsArray().Select(e => e!["state_key"]!.GetValue<string>()).Should().Contain(remote.Bob);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/joined_members")).Body["joined"]!.AsObject().ContainsKey(remote.Bob).Should().BeFalse();

        // Bob is gone: a second leave is not allowed.
        (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_leave/{room}/{Uri.EscapeDataString(remote.Bob)}");
        status.Should().Be(403, body?.ToJsonString());

        // v1 answers [200, {}].
        var carol = new Remote(remote.Keys, $"@carol:{remote.Keys.ServerName}");
        await JoinAsync(carol, roomId);
        (status, body) = await SignedAsync(carol, HttpMethod.Get, $"/_matrix/federation/v1/make_leave/{room}/{Uri.EscapeDataString(carol.Bob)}");
        status.Should().Be(200, body?.ToJsonString());
        var carolLeave = body!["event"]!.AsObject();
        var carolLeaveId = Finish(carol, carolLeave);
        (status, body) = await SignedAsync(carol, HttpMethod.Put, $"/_matrix/federation/v1/send_leave/{room}/{Uri.EscapeDataString(carolLeaveId)}", carolLeave);
        status.Should().Be(200, body?.ToJsonString());
        body!.ToJsonString().Should().Be("[200,{}]");
    }

    [Fact]
    public async Task Make_leave_refuses_other_servers_users_unknown_rooms_and_bad_ids()
    {
        var (_, roomId, remote) = await RoomWithRemoteServerAsync();
        var room = Uri.EscapeDataString(roomId);
        var (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_leave/{room}/{Uri.EscapeDataString("@eve:elsewhere.example")}");
        status.Should().Be(403);
        body!["errcode"]!.GetValue<string>().Should().Be("M_FORBIDDEN");
        (status, body) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_leave/{Uri.EscapeDataString("!nothing:" + FederationClusterFixture.OurServerName)}/{Uri.EscapeDataString(remote.Bob)}");
        status.Should().Be(404);
        body!["errcode"]!.GetValue<string>().Should().Be("M_NOT_FOUND");
        (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_leave/{room}/not-a-user");
        status.Should().Be(400);
        (status, _) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/make_leave/{room}/{Uri.EscapeDataString(remote.Bob)}");
        status.Should().Be(403, "Bob never joined, so he cannot leave");
    }

    [Fact]
    public async Task A_joined_remote_users_typing_edu_reaches_local_syncs_and_edus_speaking_for_others_are_dropped()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        await JoinAsync(remote, roomId);
        var since = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        JsonObject Typing(string userId, bool typing) => new()
        {
            ["edu_type"] = "m.typing",
            ["content"] = new JsonObject { ["room_id"] = roomId, ["user_id"] = userId, ["typing"] = typing },
        };
        var txn = new JsonObject
        {
            ["origin"] = remote.Keys.ServerName,
            ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["pdus"] = new JsonArray(),
            ["edus"] = new JsonArray(
                Typing("@eve:elsewhere.example", true),
                Typing($"@carol:{remote.Keys.ServerName}", true),
                new JsonObject { ["edu_type"] = "m.typing", ["content"] = "garbage" },
                Typing(remote.Bob, true)),
        };
        var (status, body) = await SignedAsync(remote, HttpMethod.Put, $"/_matrix/federation/v1/send/{Guid.NewGuid():N}", txn);
        status.Should().Be(200, body?.ToJsonString());

        var sync = await alice.SyncUntilAsync(since, s => s["rooms"]?["join"]?[roomId]?["ephemeral"]?["events"]?.AsArray()
            .Any(e => e!["type"]!.GetValue<string>() == "m.typing") == true);
        var typing = sync["rooms"]!["join"]![roomId]!["ephemeral"]!["events"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "m.typing")!;
        typing["content"]!["user_ids"]!.AsArray().Select(u => u!.GetValue<string>()).Should().Equal([remote.Bob],
            "Eve is of another server than the sender and Carol is not in the room");
    }

    [Fact]
    public async Task A_server_the_room_acl_denies_has_its_pdus_refused_and_its_room_requests_forbidden()
    {
        var (alice, roomId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var (joinId, join) = await JoinAsync(remote, roomId);
        // The ACL matches server names without their port: the remote is 127.0.0.1.
        var acl = await alice.SetStateAsync(roomId, "m.room.server_acl", new JsonObject { ["allow"] = new JsonArray("*"), ["deny"] = new JsonArray("127.0.0.1") });

        var message = Message(roomId, remote.Bob, acl, join, "from a banned server", 100);
        var id = Finish(remote, message);
        var results = await SendAsync(remote, message);
        results[id]!["error"]!.GetValue<string>().Should().Contain("banned");
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/event/{Uri.EscapeDataString(id)}")).Status.Should().Be(404);

        var (status, body) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/state_ids/{Uri.EscapeDataString(roomId)}?event_id={Uri.EscapeDataString(acl)}");
        status.Should().Be(403, body?.ToJsonString());
        body!["errcode"]!.GetValue<string>().Should().Be("M_FORBIDDEN");
        (status, _) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString($"@carol:{remote.Keys.ServerName}")}?ver={Version.Id}");
        status.Should().Be(403);
        (status, _) = await SignedAsync(remote, HttpMethod.Get, $"/_matrix/federation/v1/event/{Uri.EscapeDataString(joinId)}");
        status.Should().Be(403);
    }

    /// <summary>
    /// Spec "Checks performed on receipt of a PDU": an event whose prev events cannot be fetched is checked against the
    /// state at them, which the room asks of the sender (/state_ids, then /state or /event for what it lacks).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_event_after_a_gap_get_missing_events_cannot_close_is_checked_against_the_state_its_sender_gives_at_the_gap(bool stateHasSender)
    {
        var (server, keys) = await fixture.NewRemote();
        using var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var remote = new Remote(keys, $"@bob:{keys.ServerName}");
        var (joinId, join) = await JoinAsync(remote, roomId);

        // Bob's messages that never reached this server; get_missing_events is not served, so the gap stays open.
        var unseen = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var prev = joinId;
        var depth = join["depth"]!.GetValue<long>();
        for (var i = 1; i <= 3; i++)
        {
            var message = Message(roomId, remote.Bob, prev, join, $"unseen {i}", ++depth);
            prev = Finish(remote, message);
            unseen[prev] = message;
        }
        var after = Message(roomId, remote.Bob, prev, join, "after the gap", ++depth);
        var afterId = Finish(remote, after);

        // The state at the gap: the state before bob's join, with the join unless this sender says otherwise.
        var (status, stateBody) = await SignedAsync(remote, HttpMethod.Get,
            $"/_matrix/federation/v1/state/{Uri.EscapeDataString(roomId)}?event_id={Uri.EscapeDataString(joinId)}");
        status.Should().Be(200, stateBody?.ToJsonString());
        var state = stateBody!["pdus"]!.AsArray().Select(p => p!.AsObject()).ToList();
        if (stateHasSender) state.Add(join);
        var authChain = stateBody["auth_chain"]!.AsArray().Select(p => p!.AsObject()).ToList();
        string IdOf(JsonObject pdu) => EventIds.Compute(pdu, Version).ToString();
        server.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/state_ids/", FakeResidentRoom.Json(new JsonObject
        {
            ["pdu_ids"] = new JsonArray([.. state.Select(p => JsonValue.Create(IdOf(p)))]),
            ["auth_chain_ids"] = new JsonArray([.. authChain.Select(p => JsonValue.Create(IdOf(p)))]),
        }));
        server.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/state/", FakeResidentRoom.Json(new JsonObject
        {
            ["pdus"] = new JsonArray([.. state.Select(p => p.DeepClone())]),
            ["auth_chain"] = new JsonArray([.. authChain.Select(p => p.DeepClone())]),
        }));
        server.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/event/", async http =>
        {
            var id = Uri.UnescapeDataString(http.Request.Path.Value!.Split('/')[^1]);
            if (!unseen.TryGetValue(id, out var pdu))
            {
                await FakeResidentRoom.Json(new JsonObject { ["errcode"] = "M_NOT_FOUND", ["error"] = "Unknown event" }, 404)(http);
                return;
            }
            await FakeResidentRoom.Json(new JsonObject { ["origin"] = keys.ServerName, ["origin_server_ts"] = 0, ["pdus"] = new JsonArray(pdu.DeepClone()) })(http);
        });

        var results = await SendAsync(remote, after);
        server.Requests.Should().Contain(r => r.PathAndQuery.StartsWith("/_matrix/federation/v1/state_ids/", StringComparison.Ordinal) &&
            r.PathAndQuery.Contains("event_id=" + Uri.EscapeDataString(prev), StringComparison.Ordinal), "the state is asked at the missing prev event");
        var (_, page) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/messages?dir=b&limit=20");
        var shown = page["chunk"]!.AsArray().Select(e => e!["event_id"]!.GetValue<string>()).ToList();
        shown.Should().NotContain(unseen.Keys, "the gap's events are outliers, not timeline");
        if (stateHasSender)
        {
            results[afterId]!.AsObject().Should().BeEmpty("the state at the gap lets bob speak: {0}", results.ToJsonString());
            shown.Should().Contain(afterId);
        }
        else
        {
            results[afterId]!["error"]!.GetValue<string>().Should().Contain("rejected", "by that state bob is not in the room");
            shown.Should().NotContain(afterId);
        }
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT status, state_after IS NOT NULL FROM room_dag_events WHERE event_id = $1", connection)
        {
            Parameters = { new() { Value = prev } },
        };
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).Should().BeTrue("the prev event is kept");
        reader.GetString(0).Should().Be("outlier");
        reader.GetBoolean(1).Should().BeTrue("with the state after it");
    }

    /// <summary>
    /// Server-server "Restricted rooms" (joins-v1.yaml, joins-v2.yaml): this server, resident in a restricted room, lets a
    /// remote user in who is joined to an allowed room it is in, naming one of its own users able to invite in
    /// <c>join_authorised_via_users_server</c> and signing the join on send_join; it answers the spec's errors otherwise.
    /// </summary>
    [Fact]
    public async Task A_remote_user_in_an_allowed_room_joins_a_restricted_room_authorised_and_signed_by_this_server()
    {
        var (alice, spaceId, remote) = await RoomWithRemoteServerAsync();
        using var aliceClient = alice;
        var restrictedId = await alice.CreateRoomAsync(RestrictedRoom.CreateBody(spaceId));
        var elsewhereId = await alice.CreateRoomAsync(RestrictedRoom.CreateBody("!nowhere:elsewhere.test"));
        string MakeJoin(string roomId) => $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(remote.Bob)}?ver={Version.Id}";

        var (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeJoin(restrictedId));
        status.Should().Be(403, "bob is in none of the allowed rooms: {0}", body?.ToJsonString());
        body!["errcode"]!.GetValue<string>().Should().Be("M_FORBIDDEN");
        (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeJoin(elsewhereId));
        status.Should().Be(400, "this server is in none of the allowed rooms: {0}", body?.ToJsonString());
        body!["errcode"]!.GetValue<string>().Should().Be("M_UNABLE_TO_AUTHORISE_JOIN");

        await JoinAsync(remote, spaceId);
        (status, body) = await SignedAsync(remote, HttpMethod.Get, MakeJoin(restrictedId));
        status.Should().Be(200, body?.ToJsonString());
        var template = body!["event"]!.AsObject();
        template["content"]!["join_authorised_via_users_server"]!.GetValue<string>().Should().Be(alice.UserId, "a user of this server who may invite");

        // A join naming a user of another server as its authoriser is not this server's to vouch for.
        var foreign = template.DeepClone().AsObject();
        foreign["content"]!["join_authorised_via_users_server"] = $"@someone:{remote.Keys.ServerName}";
        var foreignId = Finish(remote, foreign);
        (status, body) = await SignedAsync(remote, HttpMethod.Put,
            $"/_matrix/federation/v2/send_join/{Uri.EscapeDataString(restrictedId)}/{Uri.EscapeDataString(foreignId)}", foreign);
        status.Should().Be(400, body?.ToJsonString());

        var joinId = Finish(remote, template);
        (status, body) = await SignedAsync(remote, HttpMethod.Put,
            $"/_matrix/federation/v2/send_join/{Uri.EscapeDataString(restrictedId)}/{Uri.EscapeDataString(joinId)}", template);
        status.Should().Be(200, body?.ToJsonString());
        var signed = body!["event"]!.AsObject();
        signed["signatures"]!.AsObject().Select(kv => kv.Key).Should().BeEquivalentTo([remote.Keys.ServerName, FederationClusterFixture.OurServerName],
            "the resident signs the join it authorised");
        EventIds.Compute(signed, Version).ToString().Should().Be(joinId);
        var (_, members) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(restrictedId)}/joined_members");
        members["joined"]!.AsObject().Select(m => m.Key).Should().Contain(remote.Bob);
    }
}
