using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A local user joins a room of a hostile or broken resident server (server-server-api "Joining Rooms",
/// "Checks performed on receipt of a PDU"): a state event of its answer that fails the auth rules is
/// stored as rejected and left out of the state; an answer without the room's create event, of another room
/// version, or with a join its state refuses, is refused and leaves nothing behind; garbage is 502.
/// </summary>
public sealed class RemoteJoinAnswerTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    private static readonly RoomVersion Version = RoomVersions.Default;

    /// <summary>A room of the fake resident: carol created it, joined, set power levels and a public join rule.</summary>
    private sealed class FakeRoom(FakeServerKeys keys, string roomId)
    {
        public string RoomId => roomId;
        public string Carol => $"@carol:{keys.ServerName}";
        public List<(string Id, JsonObject Pdu)> Events { get; } = [];
        public string Id(string type, string stateKey = "") => Events.Last(e => e.Pdu["type"]!.GetValue<string>() == type &&
            e.Pdu["state_key"]?.GetValue<string>() == stateKey).Id;

        public string Add(string sender, string type, string? stateKey, JsonObject content, params string[] auth) =>
            AddSignedBy(keys, sender, type, stateKey, content, auth);

        public string AddSignedBy(FakeServerKeys signer, string sender, string type, string? stateKey, JsonObject content, params string[] auth)
        {
            var pdu = new JsonObject
            {
                ["room_id"] = roomId,
                ["sender"] = sender,
                ["type"] = type,
                ["content"] = content,
                ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                ["depth"] = Events.Count + 1,
                ["prev_events"] = Events.Count == 0 ? new JsonArray() : new JsonArray(Events[^1].Id),
                ["auth_events"] = new JsonArray([.. auth.Select(a => JsonValue.Create(a))]),
            };
            if (stateKey is not null) pdu["state_key"] = stateKey;
            ContentHash.Add(pdu);
            EventSigning.SignEvent(pdu, Version, signer.ServerName, signer.Key);
            var id = EventIds.Compute(pdu, Version).ToString();
            Events.Add((id, pdu));
            return id;
        }

        public static FakeRoom Create(FakeServerKeys keys)
        {
            var room = new FakeRoom(keys, $"!fake{Guid.NewGuid():N}:{keys.ServerName}");
            var create = room.Add(room.Carol, "m.room.create", "", new JsonObject { ["creator"] = room.Carol, ["room_version"] = Version.Id });
            var join = room.Add(room.Carol, "m.room.member", room.Carol, new JsonObject { ["membership"] = "join" }, create);
            var power = room.Add(room.Carol, "m.room.power_levels", "", new JsonObject { ["users"] = new JsonObject { [room.Carol] = 100 } }, create, join);
            room.Add(room.Carol, "m.room.join_rules", "", new JsonObject { ["join_rule"] = "public" }, create, join, power);
            return room;
        }
    }

    private static Func<HttpContext, Task> Json(JsonNode body, int status = 200) => async http =>
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body.ToJsonString());
    };

    /// <summary>Serves make_join (a template on the room's last event) and send_join (the answer <paramref name="answer"/> makes of the state).</summary>
    private static void Serve(RemoteHomeserver remote, FakeServerKeys keys, FakeRoom room,
        Func<List<JsonObject>, JsonObject>? answer = null, string? madeVersion = null)
    {
        remote.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/make_join/", async http =>
        {
            var userId = Uri.UnescapeDataString(http.Request.Path.Value!.Split('/')[^1]);
            await Json(new JsonObject
            {
                ["room_version"] = madeVersion ?? Version.Id,
                ["event"] = new JsonObject
                {
                    ["room_id"] = room.RoomId,
                    ["sender"] = userId,
                    ["state_key"] = userId,
                    ["type"] = "m.room.member",
                    ["content"] = new JsonObject { ["membership"] = "join" },
                    ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    ["depth"] = room.Events.Count + 1,
                    ["prev_events"] = new JsonArray(room.Events[^1].Id),
                    ["auth_events"] = new JsonArray(room.Id("m.room.create"), room.Id("m.room.power_levels"), room.Id("m.room.join_rules")),
                },
            })(http);
        });
        remote.HandlePrefix(keys.ServerName, "/_matrix/federation/v2/send_join/", async http =>
        {
            var latest = room.Events.GroupBy(e => (e.Pdu["type"]!.GetValue<string>(), e.Pdu["state_key"]?.GetValue<string>()))
                .Where(g => g.Key.Item2 is not null).Select(g => g.Last().Pdu).ToList();
            var body = answer?.Invoke(latest) ?? new JsonObject
            {
                ["origin"] = keys.ServerName,
                ["state"] = new JsonArray([.. latest.Select(p => p.DeepClone())]),
                ["auth_chain"] = new JsonArray([.. room.Events.Select(e => e.Pdu.DeepClone())]),
            };
            await Json(body)(http);
        });
    }

    private async Task<long> RoomRowsAsync() => (await TableRows.CountAsync(fixture.Cluster.ConnectionString, ["rooms"]))[0];

    [Fact]
    public async Task A_state_event_that_fails_the_auth_rules_is_stored_rejected_and_kept_out_of_the_state_while_the_join_stands()
    {
        var (remote, keys) = await fixture.NewRemote();
        var room = FakeRoom.Create(keys);
        // Mallory never joined: her topic fails the auth rules, however the resident serves it.
        var mallory = $"@mallory:{keys.ServerName}";
        var topic = room.Add(mallory, "m.room.topic", "", new JsonObject { ["topic"] = "forged" }, room.Id("m.room.create"), room.Id("m.room.power_levels"));
        Serve(remote, keys, room);

        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(200, body.ToJsonString());

        (status, _) = await alice.GetAsync($"/_matrix/client/v3/rooms/{room.RoomId}/state/m.room.topic/");
        status.Should().Be(404, "the rejected topic is not the room's");
        (status, body) = await alice.GetAsync($"/_matrix/client/v3/rooms/{room.RoomId}/state/m.room.join_rules/");
        status.Should().Be(200);
        body["join_rule"]!.GetValue<string>().Should().Be("public");
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT status FROM room_dag_events WHERE event_id = $1", connection) { Parameters = { new() { Value = topic } } };
        (await command.ExecuteScalarAsync()).Should().Be("rejected");
    }

    [Fact]
    public async Task An_answer_without_the_create_event_of_another_version_or_refusing_the_join_is_refused_and_leaves_no_room()
    {
        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var before = await RoomRowsAsync();

        var (remote, keys) = await fixture.NewRemote();
        var room = FakeRoom.Create(keys);
        Serve(remote, keys, room, latest => new JsonObject
        {
            ["state"] = new JsonArray([.. latest.Where(p => p["type"]!.GetValue<string>() != "m.room.create").Select(p => p.DeepClone())]),
            ["auth_chain"] = new JsonArray([.. room.Events.Skip(1).Select(e => e.Pdu.DeepClone())]),
        });
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, "an answer without the room's create event is no room: {0}", body.ToJsonString());

        (remote, keys) = await fixture.NewRemote();
        room = FakeRoom.Create(keys);
        Serve(remote, keys, room, madeVersion: "9");
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, "the room's create event is of version 10, not the 9 make_join named: {0}", body.ToJsonString());

        // The join rule in the state is invite: the resident's state does not allow the join it took.
        (remote, keys) = await fixture.NewRemote();
        room = FakeRoom.Create(keys);
        room.Add(room.Carol, "m.room.join_rules", "", new JsonObject { ["join_rule"] = "invite" },
            room.Id("m.room.create"), room.Id("m.room.member", room.Carol), room.Id("m.room.power_levels"));
        Serve(remote, keys, room);
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(403, body.ToJsonString());
        body["errcode"]!.GetValue<string>().Should().Be("M_FORBIDDEN");

        (await RoomRowsAsync()).Should().Be(before, "no refused join leaves a room behind");
    }

    [Fact]
    public async Task Garbage_from_make_join_or_send_join_is_502_and_an_event_with_a_bad_signature_is_dropped()
    {
        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var (remote, keys) = await fixture.NewRemote();
        var room = FakeRoom.Create(keys);
        remote.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/make_join/", Json(new JsonArray(1, 2, 3)));
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, body.ToJsonString());

        Serve(remote, keys, room, _ => new JsonObject { ["state"] = "not a list" });
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, body.ToJsonString());

        // The power levels come with a broken signature: dropped, so the join's auth events are not all there.
        Serve(remote, keys, room, latest => new JsonObject
        {
            ["state"] = new JsonArray([.. latest.Select(p =>
            {
                var copy = p.DeepClone().AsObject();
                if (copy["type"]!.GetValue<string>() == "m.room.power_levels") copy["signatures"]![keys.ServerName]![keys.Key.KeyId] = "AAAA";
                return (JsonNode)copy;
            })]),
            ["auth_chain"] = new JsonArray(),
        });
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(403, "the join cites power levels the answer does not validly hold: {0}", body.ToJsonString());
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{room.RoomId}/state/m.room.join_rules/")).Status.Should().BeOneOf([403, 404]);
    }

    [Theory]
    [InlineData("via")]
    [InlineData("server_name")]
    public async Task The_servers_a_client_names_are_tried_in_turn_before_the_room_IDs_own(string parameter)
    {
        // The room's creator server knows nothing of it any more (404 to make_join); dave's server is in it.
        var (creator, creatorKeys) = await fixture.NewRemote();
        creator.HandlePrefix(creatorKeys.ServerName, "/_matrix/federation/v1/make_join/",
            Json(new JsonObject { ["errcode"] = "M_NOT_FOUND", ["error"] = "Unknown room" }, 404));
        var (resident, residentKeys) = await fixture.NewRemote();
        var room = FakeRoom.Create(creatorKeys);
        var dave = $"@dave:{residentKeys.ServerName}";
        room.AddSignedBy(residentKeys, dave, "m.room.member", dave, new JsonObject { ["membership"] = "join" },
            room.Id("m.room.create"), room.Id("m.room.power_levels"), room.Id("m.room.join_rules"));
        Serve(resident, residentKeys, room);
        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);

        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(404, "without a named server only the room ID's is asked, and it does not have the room: {0}", body.ToJsonString());

        (status, body) = await alice.PostAsync(
            $"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}?{parameter}=127.0.0.1:1&{parameter}={Uri.EscapeDataString(residentKeys.ServerName)}", new JsonObject());
        status.Should().Be(200, body.ToJsonString());
        body["room_id"]!.GetValue<string>().Should().Be(room.RoomId);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{room.RoomId}/joined_members")).Body["joined"]!.AsObject().Select(m => m.Key)
            .Should().BeEquivalentTo([room.Carol, dave, alice.UserId]);
    }
}
