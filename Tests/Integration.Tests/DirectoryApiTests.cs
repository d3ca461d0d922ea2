using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

public sealed class DirectoryApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    [Fact]
    public async Task Aliases_resolve_join_and_list_and_public_rooms_can_be_searched()
    {
        using var alice = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var aliasName = "lobby" + Guid.NewGuid().ToString("N")[..6];
        var alias = $"#{aliasName}:test.local";

        var created = await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject
        {
            ["visibility"] = "public", ["preset"] = "public_chat", ["room_alias_name"] = aliasName,
            ["name"] = "The Lobby " + aliasName, ["topic"] = "say hello",
        });
        created.Status.Should().Be(200);
        var roomId = created.Body["room_id"]!.GetValue<string>();

        var resolved = await carol.GetAsync($"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}");
        resolved.Body["room_id"]!.GetValue<string>().Should().Be(roomId);
        (await carol.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(alias)}", new JsonObject())).Body["room_id"]!.GetValue<string>()
            .Should().Be(roomId);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.canonical_alias")).Body["alias"]!.GetValue<string>().Should().Be(alias);

        var search = await carol.PostAsync("/_matrix/client/v3/publicRooms", new JsonObject
        {
            ["filter"] = new JsonObject { ["generic_search_term"] = aliasName },
        });
        var room = search.Body["chunk"]!.AsArray().Single()!;
        room["room_id"]!.GetValue<string>().Should().Be(roomId);
        room["num_joined_members"]!.GetValue<long>().Should().Be(2);
        room["canonical_alias"]!.GetValue<string>().Should().Be(alias);
        room["topic"]!.GetValue<string>().Should().Be("say hello");
        room["join_rule"]!.GetValue<string>().Should().Be("public");
        (await carol.PostAsync("/_matrix/client/v3/publicRooms", new JsonObject
        {
            ["filter"] = new JsonObject { ["generic_search_term"] = "no-such-room-" + aliasName },
        })).Body["chunk"]!.AsArray().Should().BeEmpty();
        // Publish a second room so that paging has two pages.
        await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["visibility"] = "public", ["preset"] = "public_chat" });
        var first = (await carol.GetAsync("/_matrix/client/v3/publicRooms?limit=1")).Body;
        first["chunk"]!.AsArray().Should().HaveCount(1);
        var second = (await carol.GetAsync($"/_matrix/client/v3/publicRooms?limit=1&since={first["next_batch"]}")).Body;
        second["chunk"]!.AsArray().Should().HaveCount(1);
        second["chunk"]![0]!["room_id"]!.GetValue<string>().Should().NotBe(first["chunk"]![0]!["room_id"]!.GetValue<string>());
        second["prev_batch"]!.GetValue<string>().Should().Be("o0");

        var again = await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["room_alias_name"] = aliasName });
        (again.Status, again.Body["errcode"]!.GetValue<string>()).Should().Be((400, "M_ROOM_IN_USE"));
        var duplicate = await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}",
            new JsonObject { ["room_id"] = roomId }.ToJsonString());
        duplicate.Status.Should().Be(409);

        (await carol.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}", null)).Status.Should().Be(403);
        (await alice.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}", null)).Status.Should().Be(200);
        (await carol.GetAsync($"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}")).Status.Should().Be(404);
    }

    [Fact]
    public async Task Directory_visibility_is_set_by_room_moderators()
    {
        using var alice = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        await carol.PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());

        (await alice.GetAsync($"/_matrix/client/v3/directory/list/room/{roomId}")).Body["visibility"]!.GetValue<string>().Should().Be("private");
        (await carol.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/directory/list/room/{roomId}", """{"visibility":"public"}""")).Status.Should().Be(403);
        (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/directory/list/room/{roomId}", """{"visibility":"public"}""")).Status.Should().Be(200);
        (await alice.GetAsync($"/_matrix/client/v3/directory/list/room/{roomId}")).Body["visibility"]!.GetValue<string>().Should().Be("public");
    }

    [Fact]
    public async Task A_canonical_alias_must_be_valid_and_point_to_the_room_and_deleting_it_updates_the_event()
    {
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>();
        var other = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>();
        var mine = $"#mine{Guid.NewGuid():N}:test.local";
        var alt = $"#alt{Guid.NewGuid():N}:test.local";
        var elsewhere = $"#elsewhere{Guid.NewGuid():N}:test.local";
        foreach (var (alias, target) in new[] { (mine, room), (alt, room), (elsewhere, other) })
        {
            (await alice.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alias)}",
                new JsonObject { ["room_id"] = target }.ToJsonString())).Status.Should().Be(200);
        }
        var path = $"/_matrix/client/v3/rooms/{room}/state/m.room.canonical_alias";
        async Task<(int Status, string? Errcode)> PutAsync(JsonObject content)
        {
            var (status, body) = await alice.SendAsync(HttpMethod.Put, path, content.ToJsonString());
            return (status, body["errcode"]?.GetValue<string>());
        }

        (await PutAsync(new JsonObject { ["alias"] = elsewhere })).Should().Be((400, "M_BAD_ALIAS"));
        (await PutAsync(new JsonObject { ["alias"] = $"#missing{Guid.NewGuid():N}:test.local" })).Should().Be((400, "M_BAD_ALIAS"));
        (await PutAsync(new JsonObject { ["alias"] = "not-an-alias" })).Should().Be((400, "M_INVALID_PARAM"));
        (await PutAsync(new JsonObject { ["alias"] = 5 })).Should().Be((400, "M_INVALID_PARAM"));
        (await PutAsync(new JsonObject { ["alias"] = mine, ["alt_aliases"] = new JsonArray(elsewhere) })).Should().Be((400, "M_BAD_ALIAS"));
        (await PutAsync(new JsonObject { ["alias"] = mine, ["alt_aliases"] = "x" })).Should().Be((400, "M_INVALID_PARAM"));
        (await PutAsync(new JsonObject { ["alias"] = mine, ["alt_aliases"] = new JsonArray(7) })).Should().Be((400, "M_INVALID_PARAM"));
        (await alice.GetAsync(path)).Status.Should().Be(404, "nothing refused was stored");

        (await PutAsync(new JsonObject { ["alias"] = mine, ["alt_aliases"] = new JsonArray(alt) })).Status.Should().Be(200);

        // Deleting an alias takes it out of the event; what is already there is not checked again.
        (await alice.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(alt)}", null)).Status.Should().Be(200);
        var content = (await alice.GetAsync(path)).Body;
        content["alias"]!.GetValue<string>().Should().Be(mine);
        content["alt_aliases"]!.AsArray().Should().BeEmpty();
        (await alice.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/directory/room/{Uri.EscapeDataString(mine)}", null)).Status.Should().Be(200);
        (await alice.GetAsync(path)).Body.ContainsKey("alias").Should().BeFalse();
        (await PutAsync(new JsonObject { ["alias"] = elsewhere })).Should().Be((400, "M_BAD_ALIAS"), "a removed alias is checked again when re-added");
    }
}
