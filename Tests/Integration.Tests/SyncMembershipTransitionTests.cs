using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// /sync across the user's own membership changes (client-server-api "Syncing", sync.yaml): a room
/// joined and left between two syncs, and an invite accepted, each sent once and whole.
/// </summary>
public sealed class SyncMembershipTransitionTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private Task<MatrixClient> NewUserAsync() => MatrixClient.RegisteredAsync(fixture.Cluster.ApiHosts[0].BaseAddress);

    private static List<JsonObject> Events(JsonNode room, string section) =>
        room[section]!["events"]!.AsArray().Select(e => e!.AsObject()).ToList();

    private static string Key(JsonObject e) => $"{e["type"]}|{e["state_key"]}";

    [Fact]
    public async Task A_room_joined_and_left_between_two_syncs_comes_in_leave_with_its_state_and_whole_timeline()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var room = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat", ["name"] = "drop-in", ["topic"] = "short visit" });
        var since = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();

        await alice.JoinAsync(room);
        var said = await alice.SendTextAsync(room, "hello and goodbye");
        await alice.LeaveAsync(room);

        var sync = await alice.SyncUntilAsync(since, s => s["rooms"]!["leave"]![room] is not null);
        sync["rooms"]!["join"]![room].Should().BeNull("the user is no longer in the room");
        var left = sync["rooms"]!["leave"]![room]!;
        var timeline = Events(left, "timeline");
        var ownMemberships = timeline.Where(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == alice.UserId)
            .Select(e => e["content"]!["membership"]!.GetValue<string>()).ToList();
        ownMemberships.Should().Equal(["join", "leave"], "the join and the leave are both in the batch, in order");
        timeline.Should().Contain(e => e["event_id"]!.GetValue<string>() == said);

        // The client never saw this room's state: it comes with the leave, as for a newly joined room.
        var state = Events(left, "state");
        state.Should().Contain(e => e["type"]!.GetValue<string>() == "m.room.create");
        state.Should().Contain(e => e["type"]!.GetValue<string>() == "m.room.name" && e["content"]!["name"]!.GetValue<string>() == "drop-in");
        state.Should().Contain(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == bob.UserId);
        var timelineIds = timeline.Select(e => e["event_id"]!.GetValue<string>()).ToHashSet();
        state.Should().NotContain(e => timelineIds.Contains(e["event_id"]!.GetValue<string>()), "what the timeline carries is not repeated in state");
        state.Select(Key).Should().OnlyHaveUniqueItems();

        var after = await alice.SyncAsync(sync["next_batch"]!.GetValue<string>());
        after["rooms"]!["leave"]![room].Should().BeNull("a leave is sent once");
    }

    [Fact]
    public async Task An_accepted_invite_moves_the_room_to_join_once_with_no_state_repeated()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var room = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat", ["name"] = "invited", ["invite"] = new JsonArray(alice.UserId) });
        await bob.SendTextAsync(room, "before the join");
        var invited = await alice.SyncAsync();
        if (invited["rooms"]!["invite"]![room] is null)
        {
            invited = await alice.SyncUntilAsync(invited["next_batch"]!.GetValue<string>(), s => s["rooms"]!["invite"]![room] is not null);
        }
        var since = invited["next_batch"]!.GetValue<string>();

        await alice.JoinAsync(room);
        var sync = await alice.SyncUntilAsync(since, s => s["rooms"]!["join"]![room] is not null);
        sync["rooms"]!["invite"]![room].Should().BeNull("the invite is accepted");
        var joined = sync["rooms"]!["join"]![room]!;
        var timeline = Events(joined, "timeline");
        var state = Events(joined, "state");
        timeline.Should().Contain(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == alice.UserId &&
                                      e["content"]!["membership"]!.GetValue<string>() == "join", "the joiner's own join is in the timeline");
        var timelineIds = timeline.Select(e => e["event_id"]!.GetValue<string>()).ToHashSet();
        state.Should().NotContain(e => timelineIds.Contains(e["event_id"]!.GetValue<string>()), "what the timeline carries is not repeated in state");
        state.Select(Key).Should().OnlyHaveUniqueItems();
        state.Should().NotContain(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == alice.UserId &&
                                      e["content"]!["membership"]!.GetValue<string>() == "invite", "the invite is superseded by the join");
        state.Concat(timeline).Should().Contain(e => e["type"]!.GetValue<string>() == "m.room.create");

        var next = sync["next_batch"]!.GetValue<string>();
        var quiet = await alice.SyncAsync(next);
        quiet["rooms"]!["join"]![room].Should().BeNull("nothing new happened in the room");
        quiet["rooms"]!["invite"]![room].Should().BeNull();
        var message = await bob.SendTextAsync(room, "after the join");
        var later = await alice.SyncUntilAsync(next, s => s["rooms"]!["join"]![room] is not null);
        Events(later["rooms"]!["join"]![room]!, "state").Should().BeEmpty("the state was sent with the join and has not changed since");
        Events(later["rooms"]!["join"]![room]!, "timeline").Select(e => e["event_id"]!.GetValue<string>()).Should().Equal([message]);
    }

    [Fact]
    public async Task An_invite_to_a_busy_room_comes_even_when_more_than_a_timeline_happened_since()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var room = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "private_chat" });
        var since = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        await bob.InviteAsync(room, alice.UserId);
        for (var i = 0; i < 12; i++) await bob.SendTextAsync(room, $"busy {i}");

        var sync = await alice.SyncUntilAsync(since, s => s["rooms"]!["invite"]![room] is not null, "&filter=" +
            Uri.EscapeDataString("""{"room":{"timeline":{"limit":5}}}"""));
        sync["rooms"]!["invite"]![room]!["invite_state"]!["events"]!.AsArray()
            .Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == alice.UserId);
    }
}
