using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// POST /rooms/{roomId}/upgrade (room_upgrades.yaml and the spec's "Room Upgrades" server
/// behaviour): the replacement room, what it inherits, what moves, the tombstone and the old
/// room's restricted power levels, and every documented error.
/// </summary>
public sealed class RoomUpgradeApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private Task<MatrixClient> NewUserAsync() => MatrixClient.RegisteredAsync(fixture.Cluster.ApiHosts[0].BaseAddress);

    private static async Task<JsonArray> StateAsync(MatrixClient client, string roomId)
    {
        var (status, body) = await client.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state");
        status.Should().Be(200, body.ToJsonString());
        return JsonNode.Parse(body["_raw"]!.GetValue<string>())!.AsArray();
    }

    private static JsonObject? Content(JsonArray state, string type, string stateKey = "") =>
        state.FirstOrDefault(e => e!["type"]!.GetValue<string>() == type && e["state_key"]!.GetValue<string>() == stateKey)?["content"]?.AsObject();

    private static Task<(int Status, JsonObject Body)> UpgradeAsync(MatrixClient client, string roomId, string version) =>
        client.PostAsync($"/_matrix/client/v3/rooms/{roomId}/upgrade", new JsonObject { ["new_version"] = version });

    [Fact]
    public async Task An_upgrade_replaces_the_room_with_its_state_aliases_bans_and_tags_and_closes_the_old_one()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        using var carol = await NewUserAsync();
        using var dave = await NewUserAsync();
        var aliasName = "up" + Guid.NewGuid().ToString("N")[..10];
        var oldRoom = await alice.CreateRoomAsync(new JsonObject
        {
            ["preset"] = "public_chat",
            ["visibility"] = "public",
            ["room_version"] = "10",
            ["room_alias_name"] = aliasName,
            ["name"] = "The room",
            ["topic"] = "Talk",
            ["power_level_content_override"] = new JsonObject { ["users"] = new JsonObject { [alice.UserId] = 100, [bob.UserId] = 50 } },
        });
        var alias = Content(await StateAsync(alice, oldRoom), "m.room.canonical_alias")!["alias"]!.GetValue<string>();
        await bob.JoinAsync(oldRoom);
        await dave.JoinAsync(oldRoom);
        await carol.JoinAsync(oldRoom);
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{oldRoom}/ban", new JsonObject { ["user_id"] = carol.UserId, ["reason"] = "spam" })).Status.Should().Be(200);
        await alice.SetStateAsync(oldRoom, "m.room.encryption", new JsonObject { ["algorithm"] = "m.megolm.v1.aes-sha2" });
        (await alice.PutAsync($"/_matrix/client/v3/user/{alice.UserId}/rooms/{oldRoom}/tags/u.work", new JsonObject { ["order"] = 0.25 })).Status.Should().Be(200);
        var oldState = await StateAsync(alice, oldRoom);

        var (status, body) = await UpgradeAsync(alice, oldRoom, "11");
        status.Should().Be(200, body.ToJsonString());
        var newRoom = body["replacement_room"]!.GetValue<string>();
        newRoom.Should().StartWith("!").And.NotBe(oldRoom);

        var newState = await StateAsync(alice, newRoom);
        var create = Content(newState, "m.room.create")!;
        create["room_version"]!.GetValue<string>().Should().Be("11");
        create["predecessor"]!["room_id"]!.GetValue<string>().Should().Be(oldRoom);
        create["predecessor"]!["event_id"]!.GetValue<string>().Should().StartWith("$");
        create.ContainsKey("creator").Should().BeFalse("room version 11 has no creator field");
        foreach (var type in new[] { "m.room.name", "m.room.topic", "m.room.join_rules", "m.room.history_visibility", "m.room.encryption", "m.room.power_levels" })
        {
            Content(newState, type)!.ToJsonString().Should().Be(Content(oldState, type)!.ToJsonString(), $"{type} is transferred");
        }
        Content(newState, "m.room.canonical_alias")!["alias"]!.GetValue<string>().Should().Be(alias);
        Content(newState, "m.room.member", carol.UserId)!["membership"]!.GetValue<string>().Should().Be("ban");
        Content(newState, "m.room.member", bob.UserId).Should().BeNull("memberships other than bans are not transferred");

        var resolved = await bob.GetAsync($"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}");
        resolved.Body["room_id"]!.GetValue<string>().Should().Be(newRoom, "local aliases move to the new room");
        var published = (await bob.GetAsync("/_matrix/client/v3/publicRooms?limit=500")).Body["chunk"]!.AsArray()
            .Select(r => r!["room_id"]!.GetValue<string>()).ToList();
        published.Should().Contain(newRoom).And.NotContain(oldRoom);
        var tags = await alice.GetAsync($"/_matrix/client/v3/user/{alice.UserId}/rooms/{newRoom}/tags");
        tags.Body["tags"]!["u.work"]!["order"]!.GetValue<double>().Should().Be(0.25);

        var closed = await StateAsync(bob, oldRoom);
        var tombstone = Content(closed, "m.room.tombstone")!;
        tombstone["replacement_room"]!.GetValue<string>().Should().Be(newRoom);
        tombstone["body"]!.GetValue<string>().Should().NotBeEmpty();
        var restricted = Content(closed, "m.room.power_levels")!;
        (restricted["events_default"]!.GetValue<int>(), restricted["invite"]!.GetValue<int>()).Should().Be((50, 50));
        Content(closed, "m.room.canonical_alias")!.ContainsKey("alias").Should().BeFalse();
        var silenced = await dave.PutAsync($"/_matrix/client/v3/rooms/{oldRoom}/send/m.room.message/t1", new JsonObject { ["msgtype"] = "m.text", ["body"] = "hi" });
        (silenced.Status, silenced.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));

        // Members follow to the new room by joining it.
        await bob.JoinAsync(newRoom);
        (await bob.SendTextAsync(newRoom, "here now")).Should().StartWith("$");
    }

    [Fact]
    public async Task Push_rules_about_the_old_room_are_copied_to_the_new_room()
    {
        using var alice = await NewUserAsync();
        var oldRoom = await alice.CreateRoomAsync(new JsonObject { ["room_version"] = "10" });
        string Rule(string kind, string ruleId) => $"/_matrix/client/v3/pushrules/global/{kind}/{Uri.EscapeDataString(ruleId)}";
        (await alice.PutAsync(Rule("room", oldRoom), new JsonObject { ["actions"] = new JsonArray() })).Status.Should().Be(200);
        (await alice.PutAsync(Rule("override", "mentions-here"), new JsonObject
        {
            ["actions"] = new JsonArray("notify"),
            ["conditions"] = new JsonArray(
                new JsonObject { ["kind"] = "event_match", ["key"] = "room_id", ["pattern"] = oldRoom },
                new JsonObject { ["kind"] = "event_match", ["key"] = "content.body", ["pattern"] = "*here*" }),
        })).Status.Should().Be(200);
        (await alice.PutAsync(Rule("underride", "elsewhere"), new JsonObject
        {
            ["actions"] = new JsonArray("notify"),
            ["conditions"] = new JsonArray(new JsonObject { ["kind"] = "event_match", ["key"] = "room_id", ["pattern"] = "!other:test.local" }),
        })).Status.Should().Be(200);

        var (status, body) = await UpgradeAsync(alice, oldRoom, "11");
        status.Should().Be(200, body.ToJsonString());
        var newRoom = body["replacement_room"]!.GetValue<string>();

        var room = await alice.GetAsync(Rule("room", newRoom));
        room.Status.Should().Be(200, "the room rule follows the room: {0}", room.Body.ToJsonString());
        room.Body["actions"]!.AsArray().Should().BeEmpty();
        var overrideRule = await alice.GetAsync(Rule("override", newRoom));
        overrideRule.Status.Should().Be(200, overrideRule.Body.ToJsonString());
        overrideRule.Body["actions"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal("notify");
        overrideRule.Body["conditions"]!.AsArray().Select(c => c!["pattern"]!.GetValue<string>()).Should().Equal(newRoom, "*here*");
        (await alice.GetAsync(Rule("room", oldRoom))).Status.Should().Be(200, "the old room keeps its rule");
        (await alice.GetAsync(Rule("underride", newRoom))).Status.Should().Be(404, "a rule about another room is not copied");
    }

    [Fact]
    public async Task A_moderator_may_upgrade_when_the_tombstone_is_theirs_to_send_and_keeps_the_old_levels()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var oldRoom = await alice.CreateRoomAsync(new JsonObject
        {
            ["preset"] = "public_chat",
            ["room_version"] = "9",
            // Before version 10 levels may be strings; the new room gets integers.
            ["power_level_content_override"] = new JsonObject
            {
                ["users"] = new JsonObject { [alice.UserId] = 100, [bob.UserId] = "50" },
                ["events"] = new JsonObject { ["m.room.tombstone"] = 50, ["m.room.server_acl"] = 100, ["m.room.power_levels"] = 100 },
            },
        });
        await bob.JoinAsync(oldRoom);
        await alice.SetStateAsync(oldRoom, "m.room.server_acl", new JsonObject { ["allow"] = new JsonArray("*"), ["deny"] = new JsonArray("evil.example") });

        var (status, body) = await UpgradeAsync(bob, oldRoom, "10");
        status.Should().Be(200, body.ToJsonString());
        var newRoom = body["replacement_room"]!.GetValue<string>();
        var newState = await StateAsync(bob, newRoom);
        Content(newState, "m.room.server_acl")!["deny"]![0]!.GetValue<string>().Should().Be("evil.example",
            "the upgrader stands high enough to copy every transferred event");
        var levels = Content(newState, "m.room.power_levels")!;
        levels["users"]![bob.UserId]!.GetValue<long>().Should().Be(50, "the old levels are restored after the copy");
        levels["users"]![alice.UserId]!.GetValue<long>().Should().Be(100);
        Content(newState, "m.room.create")!["creator"]!.GetValue<string>().Should().Be(bob.UserId);
        // Bob may not change the old room's power levels: the tombstone is sent, the levels stay.
        var closed = await StateAsync(alice, oldRoom);
        Content(closed, "m.room.tombstone")!["replacement_room"]!.GetValue<string>().Should().Be(newRoom);
        Content(closed, "m.room.power_levels")!["events_default"]?.GetValue<int>().Should().Be(0);
    }

    [Fact]
    public async Task Bad_requests_get_the_documented_errors_and_change_nothing()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        using var stranger = await NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        await bob.JoinAsync(roomId);
        var path = $"/_matrix/client/v3/rooms/{roomId}/upgrade";

        async Task ExpectAsync(MatrixClient client, JsonObject request, int status, string errcode)
        {
            var (s, b) = await client.PostAsync(path, request);
            (s, b["errcode"]?.GetValue<string>()).Should().Be((status, errcode), b.ToJsonString());
        }
        await ExpectAsync(alice, new JsonObject { ["new_version"] = "999" }, 400, "M_UNSUPPORTED_ROOM_VERSION");
        await ExpectAsync(alice, new JsonObject(), 400, "M_MISSING_PARAM");
        await ExpectAsync(alice, new JsonObject { ["new_version"] = 11 }, 400, "M_BAD_JSON");
        await ExpectAsync(alice, new JsonObject { ["new_version"] = "11", ["additional_creators"] = "x" }, 400, "M_BAD_JSON");
        await ExpectAsync(bob, new JsonObject { ["new_version"] = "11" }, 403, "M_FORBIDDEN");
        await ExpectAsync(stranger, new JsonObject { ["new_version"] = "11" }, 403, "M_FORBIDDEN");
        var unknown = await alice.PostAsync("/_matrix/client/v3/rooms/!nosuchroom:localhost/upgrade", new JsonObject { ["new_version"] = "11" });
        unknown.Status.Should().Be(404);
        var (bad, badBody) = await alice.SendAsync(HttpMethod.Post, path, "{not json");
        (bad, badBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_NOT_JSON"));

        Content(await StateAsync(alice, roomId), "m.room.tombstone").Should().BeNull("no refused request upgraded the room");
    }
}
