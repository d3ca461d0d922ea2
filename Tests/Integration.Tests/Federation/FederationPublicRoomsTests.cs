using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Signed /_matrix/federation/v1/publicRooms, GET and POST: refused (403 M_FORBIDDEN) while
/// allow_public_rooms_over_federation is off, as Synapse's default; otherwise the list local clients get,
/// with every documented parameter.
/// </summary>
public sealed class FederationPublicRoomsTests(FederationClusterFixture closed, OpenDirectoryFederationFixture open)
    : IClassFixture<FederationClusterFixture>, IClassFixture<OpenDirectoryFederationFixture>
{
    private const string PublicRooms = "/_matrix/federation/v1/publicRooms";

    private FederationClusterFixture Open => open.Federation;

    private async Task<(string RoomId, string Name)> PublishAsync(string topic, string? roomType = null)
    {
        using var alice = new MatrixClient(Open.BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var name = "Room " + Guid.NewGuid().ToString("N");
        var localpart = "pub" + Guid.NewGuid().ToString("N")[..10];
        var request = new JsonObject { ["visibility"] = "public", ["preset"] = "public_chat", ["name"] = name, ["topic"] = topic, ["room_alias_name"] = localpart };
        if (roomType is not null) request["creation_content"] = new JsonObject { ["type"] = roomType };
        return (await alice.CreateRoomAsync(request), name);
    }

    [Fact]
    public async Task The_directory_is_closed_to_other_servers_by_default()
    {
        var (_, origin) = await closed.NewRemote();
        var (status, body) = await FederationRequests.SendSignedAsync(closed.BaseAddress, origin, HttpMethod.Get, PublicRooms);
        status.Should().Be(403);
        body.ErrCode().Should().Be("M_FORBIDDEN");
        (status, body) = await FederationRequests.SendSignedAsync(closed.BaseAddress, origin, HttpMethod.Post, PublicRooms, new JsonObject { ["limit"] = 1 });
        status.Should().Be(403);
        body.ErrCode().Should().Be("M_FORBIDDEN");
    }

    [Fact]
    public async Task GET_lists_the_published_rooms_with_paging_and_networks()
    {
        var (_, origin) = await Open.NewRemote();
        var (roomId, name) = await PublishAsync("the GET topic");
        await PublishAsync("another");

        var (status, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get, PublicRooms);
        status.Should().Be(200, body.ToJsonString());
        var total = body["total_room_count_estimate"]!.GetValue<int>();
        total.Should().BeGreaterThanOrEqualTo(2);
        var room = body["chunk"]!.AsArray().Single(r => r!["room_id"]!.GetValue<string>() == roomId)!.AsObject();
        room["name"]!.GetValue<string>().Should().Be(name);
        room["topic"]!.GetValue<string>().Should().Be("the GET topic");
        room["canonical_alias"]!.GetValue<string>().Should().StartWith("#pub");
        room["num_joined_members"]!.GetValue<int>().Should().Be(1);
        room["join_rule"]!.GetValue<string>().Should().Be("public");
        room["world_readable"]!.GetValue<bool>().Should().BeFalse();
        room["guest_can_join"]!.GetValue<bool>().Should().BeFalse();
        body.ContainsKey("next_batch").Should().BeFalse("everything fit in one page");

        // limit and since page through the same list; limit=0 is no limit, as in Synapse.
        (status, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get, $"{PublicRooms}?limit=1");
        status.Should().Be(200);
        body["chunk"]!.AsArray().Should().HaveCount(1);
        var next = body["next_batch"]!.GetValue<string>();
        (status, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get,
            $"{PublicRooms}?limit=1&since={Uri.EscapeDataString(next)}");
        status.Should().Be(200);
        body["chunk"]!.AsArray().Should().HaveCount(1);
        body["prev_batch"]!.GetValue<string>().Should().NotBeEmpty();
        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get, $"{PublicRooms}?limit=0");
        body["chunk"]!.AsArray().Should().HaveCount(total);

        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get, $"{PublicRooms}?include_all_networks=true");
        body["chunk"]!.AsArray().Should().Contain(r => r!["room_id"]!.GetValue<string>() == roomId);
        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get, $"{PublicRooms}?third_party_instance_id=irc");
        body["chunk"]!.AsArray().Should().BeEmpty("no room is published in a third-party network here");
        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get,
            $"{PublicRooms}?third_party_instance_id=irc&include_all_networks=true");
        body["chunk"]!.AsArray().Should().Contain(r => r!["room_id"]!.GetValue<string>() == roomId);

        foreach (var query in new[] { "limit=abc", "limit=-1", "since=nonsense", "include_all_networks=maybe" })
        {
            (status, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Get, $"{PublicRooms}?{query}");
            status.Should().Be(400, query);
            body.ErrCode().Should().Be("M_INVALID_PARAM", query);
        }
    }

    [Fact]
    public async Task POST_filters_by_search_term_and_room_type()
    {
        var (_, origin) = await Open.NewRemote();
        var term = Guid.NewGuid().ToString("N")[..12];
        var (roomId, _) = await PublishAsync($"about {term}");
        var (spaceId, _) = await PublishAsync($"a space about {term}", "m.space");

        var (status, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms,
            new JsonObject { ["filter"] = new JsonObject { ["generic_search_term"] = term.ToUpperInvariant() } });
        status.Should().Be(200, body.ToJsonString());
        body["chunk"]!.AsArray().Select(r => r!["room_id"]!.GetValue<string>()).Should().BeEquivalentTo([roomId, spaceId]);
        body["total_room_count_estimate"]!.GetValue<int>().Should().Be(2);
        body["chunk"]!.AsArray().Single(r => r!["room_id"]!.GetValue<string>() == spaceId)!["room_type"]!.GetValue<string>().Should().Be("m.space");

        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms, new JsonObject
        {
            ["filter"] = new JsonObject { ["generic_search_term"] = term, ["room_types"] = new JsonArray("m.space") },
        });
        body["chunk"]!.AsArray().Select(r => r!["room_id"]!.GetValue<string>()).Should().Equal(spaceId);
        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms, new JsonObject
        {
            ["filter"] = new JsonObject { ["generic_search_term"] = term, ["room_types"] = new JsonArray((JsonNode?)null) },
        });
        body["chunk"]!.AsArray().Select(r => r!["room_id"]!.GetValue<string>()).Should().Equal(roomId);

        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms, new JsonObject
        {
            ["limit"] = 1, ["filter"] = new JsonObject { ["generic_search_term"] = term }, ["include_all_networks"] = true,
        });
        body["chunk"]!.AsArray().Should().HaveCount(1);
        var next = body["next_batch"]!.GetValue<string>();
        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms, new JsonObject
        {
            ["limit"] = 1, ["since"] = next, ["filter"] = new JsonObject { ["generic_search_term"] = term },
        });
        body["chunk"]!.AsArray().Should().HaveCount(1);
        body.ContainsKey("next_batch").Should().BeFalse();
        (_, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms, new JsonObject
        {
            ["third_party_instance_id"] = "irc", ["filter"] = new JsonObject { ["generic_search_term"] = term },
        });
        body["chunk"]!.AsArray().Should().BeEmpty();

        foreach (var (what, request, errcode) in new (string, JsonObject, string)[]
        {
            ("limit a string", new JsonObject { ["limit"] = "1" }, "M_INVALID_PARAM"),
            ("limit negative", new JsonObject { ["limit"] = -1 }, "M_INVALID_PARAM"),
            ("since not ours", new JsonObject { ["since"] = "x" }, "M_INVALID_PARAM"),
            ("filter not an object", new JsonObject { ["filter"] = "x" }, "M_BAD_JSON"),
            ("room_types not a list", new JsonObject { ["filter"] = new JsonObject { ["room_types"] = "m.space" } }, "M_BAD_JSON"),
            ("include_all_networks not a boolean", new JsonObject { ["include_all_networks"] = "yes" }, "M_BAD_JSON"),
        })
        {
            (status, body) = await FederationRequests.SendSignedAsync(Open.BaseAddress, origin, HttpMethod.Post, PublicRooms, request);
            status.Should().Be(400, what);
            body.ErrCode().Should().Be(errcode, what);
        }
    }

    [Fact]
    public async Task An_unsigned_request_is_401()
    {
        using var http = new HttpClient { BaseAddress = Open.BaseAddress };
        using var get = await http.GetAsync(PublicRooms);
        ((int)get.StatusCode).Should().Be(401);
        using var post = await http.PostAsync(PublicRooms, new StringContent("{}", Encoding.UTF8, "application/json"));
        ((int)post.StatusCode).Should().Be(401);
    }
}
