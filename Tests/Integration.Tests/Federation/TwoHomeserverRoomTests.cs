using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Rooms of one instance of this server joined from another: older history (client-server <c>GET /messages</c>,
/// server-server <c>/backfill</c>), where a user who joins pages back through everything said before the join, in
/// order, redactions applied, down to the room's creation, and a second local user then reads the same history
/// from this server; and restricted rooms (server-server "Restricted rooms"), joined through the resident that
/// vouches for a user in an allowed room.
/// </summary>
public sealed class TwoHomeserverRoomTests(TwoHomeserversFixture servers) : IClassFixture<TwoHomeserversFixture>
{
    private static async Task<List<JsonObject>> PageBackAsync(MatrixClient client, string roomId, string from, int limit)
    {
        var events = new List<JsonObject>();
        for (string? token = from; token is not null;)
        {
            var (status, page) = await client.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/messages?dir=b&limit={limit}&from={token}");
            status.Should().Be(200, page.ToJsonString());
            events.AddRange((page["chunk"] as JsonArray ?? []).OfType<JsonObject>());
            token = page["end"]?.GetValue<string>();
            events.Count.Should().BeLessThan(500, "the history is finite");
        }
        return events;
    }

    [Fact]
    public async Task A_user_who_joins_a_room_of_the_other_server_pages_back_through_its_whole_history_in_order()
    {
        var bob = await servers.Second.NewUserAsync();
        var roomId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat", ["name"] = "History" });
        await bob.SetStateAsync(roomId, "m.room.topic", new JsonObject { ["topic"] = "first topic" });
        var sent = new List<string>();
        for (var i = 1; i <= 25; i++) sent.Add(await bob.SendTextAsync(roomId, $"message {i}"));
        var redacted = sent[4];
        (await bob.PutAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/redact/{Uri.EscapeDataString(redacted)}/r1", new JsonObject()))
            .Status.Should().Be(200);
        await bob.SetStateAsync(roomId, "m.room.topic", new JsonObject { ["topic"] = "second topic" });

        var alice = await servers.First.NewUserAsync();
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(roomId)}?via={Uri.EscapeDataString(servers.Second.ServerName)}",
            new JsonObject());
        status.Should().Be(200, body.ToJsonString());
        var sync = await alice.SyncAsync();
        var timeline = sync["rooms"]!["join"]![roomId]!["timeline"]!;
        var since = sync["next_batch"]!.GetValue<string>();

        var history = await PageBackAsync(alice, roomId, timeline["prev_batch"]!.GetValue<string>(), limit: 10);
        var ids = history.Select(e => e["event_id"]!.GetValue<string>()).ToList();
        ids.Should().OnlyHaveUniqueItems();
        history[^1]["type"]!.GetValue<string>().Should().Be("m.room.create", "the history goes back to the room's creation");
        var messages = history.Where(e => e["type"]!.GetValue<string>() == "m.room.message").Select(e => e["event_id"]!.GetValue<string>()).ToList();
        messages.Should().Equal(Enumerable.Reverse(sent), "every message, newest first");
        history.Single(e => e["event_id"]!.GetValue<string>() == redacted)["content"]!.AsObject().Should().BeEmpty("the redaction applies to backfilled history");
        history.Where(e => e["type"]!.GetValue<string>() == "m.room.topic").Select(e => e["content"]?["topic"]?.GetValue<string>())
            .Should().Equal(["second topic", "first topic"]);
        (await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/state/m.room.topic")).Body["topic"]!.GetValue<string>()
            .Should().Be("second topic", "old state in the history does not change the room's state");

        var after = await alice.SyncAsync(since);
        (after["rooms"]?["join"]?[roomId]?["timeline"]?["events"] as JsonArray ?? []).Should().BeEmpty("backfilled history is never news to /sync");

        // The history is this server's now: a second local user reads the same.
        var carol = await servers.First.NewUserAsync();
        await carol.JoinAsync(roomId);
        var carolSync = await carol.SyncAsync();
        var carolHistory = await PageBackAsync(carol, roomId, carolSync["rooms"]!["join"]![roomId]!["timeline"]!["prev_batch"]!.GetValue<string>(), limit: 50);
        carolHistory.Select(e => e["event_id"]!.GetValue<string>()).Should().ContainInOrder(ids);
    }

    [Fact]
    public async Task A_user_in_an_allowed_room_joins_a_restricted_room_of_the_other_server_which_vouches_for_the_join()
    {
        var bob = await servers.Second.NewUserAsync();
        var spaceId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var restrictedId = await bob.CreateRoomAsync(RestrictedRoom.CreateBody(spaceId));
        var alice = await servers.First.NewUserAsync();
        var via = $"?via={Uri.EscapeDataString(servers.Second.ServerName)}";
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(restrictedId)}{via}", new JsonObject());
        status.Should().Be(403, "alice is in none of the allowed rooms yet: {0}", body.ToJsonString());

        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(spaceId)}{via}", new JsonObject());
        status.Should().Be(200, body.ToJsonString());
        (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(restrictedId)}{via}", new JsonObject());
        status.Should().Be(200, body.ToJsonString());

        var (_, member) = await bob.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(restrictedId)}/state/m.room.member/{Uri.EscapeDataString(alice.UserId)}");
        member["membership"]!.GetValue<string>().Should().Be("join");
        member["join_authorised_via_users_server"]!.GetValue<string>().Should().Be(bob.UserId);
        var since = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        var sent = await bob.SendTextAsync(restrictedId, "welcome");
        var sync = await alice.SyncUntilAsync(since, s =>
            (s["rooms"]?["join"]?[restrictedId]?["timeline"]?["events"] as JsonArray ?? []).Any(e => e?["event_id"]?.GetValue<string>() == sent));
        sync.Should().NotBeNull();
    }
}
