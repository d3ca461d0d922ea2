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
    private async Task<long> RoomRowsAsync() => (await TableRows.CountAsync(fixture.Cluster.ConnectionString, ["rooms"]))[0];

    [Fact]
    public async Task A_state_event_that_fails_the_auth_rules_is_stored_rejected_and_kept_out_of_the_state_while_the_join_stands()
    {
        var (remote, keys) = await fixture.NewRemote();
        var room = FakeResidentRoom.Create(keys);
        // Mallory never joined: her topic fails the auth rules, however the resident serves it.
        var mallory = $"@mallory:{keys.ServerName}";
        var topic = room.Add(mallory, "m.room.topic", "", new JsonObject { ["topic"] = "forged" }, room.Id("m.room.create"), room.Id("m.room.power_levels"));
        FakeResidentRoom.ServeJoin(remote, keys, room);

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
        var room = FakeResidentRoom.Create(keys);
        FakeResidentRoom.ServeJoin(remote, keys, room, latest => new JsonObject
        {
            ["state"] = new JsonArray([.. latest.Where(p => p["type"]!.GetValue<string>() != "m.room.create").Select(p => p.DeepClone())]),
            ["auth_chain"] = new JsonArray([.. room.Events.Skip(1).Select(e => e.Pdu.DeepClone())]),
        });
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, "an answer without the room's create event is no room: {0}", body.ToJsonString());

        (remote, keys) = await fixture.NewRemote();
        room = FakeResidentRoom.Create(keys);
        FakeResidentRoom.ServeJoin(remote, keys, room, madeVersion: "9");
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, "the room's create event is of version 10, not the 9 make_join named: {0}", body.ToJsonString());

        // The join rule in the state is invite: the resident's state does not allow the join it took.
        (remote, keys) = await fixture.NewRemote();
        room = FakeResidentRoom.Create(keys);
        room.Add(room.Carol, "m.room.join_rules", "", new JsonObject { ["join_rule"] = "invite" },
            room.Id("m.room.create"), room.Id("m.room.member", room.Carol), room.Id("m.room.power_levels"));
        FakeResidentRoom.ServeJoin(remote, keys, room);
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
        var room = FakeResidentRoom.Create(keys);
        remote.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/make_join/", FakeResidentRoom.Json(new JsonArray(1, 2, 3)));
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, body.ToJsonString());

        FakeResidentRoom.ServeJoin(remote, keys, room, _ => new JsonObject { ["state"] = "not a list" });
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(502, body.ToJsonString());

        // The power levels come with a broken signature: dropped, so the join's auth events are not all there.
        FakeResidentRoom.ServeJoin(remote, keys, room, latest => new JsonObject
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
            FakeResidentRoom.Json(new JsonObject { ["errcode"] = "M_NOT_FOUND", ["error"] = "Unknown room" }, 404));
        var (resident, residentKeys) = await fixture.NewRemote();
        var room = FakeResidentRoom.Create(creatorKeys);
        var dave = $"@dave:{residentKeys.ServerName}";
        room.AddSignedBy(residentKeys, dave, "m.room.member", dave, new JsonObject { ["membership"] = "join" },
            room.Id("m.room.create"), room.Id("m.room.power_levels"), room.Id("m.room.join_rules"));
        FakeResidentRoom.ServeJoin(resident, residentKeys, room);
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
