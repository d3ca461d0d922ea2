using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Lazy-loaded members on /sync (client-server-api "Lazy-loading room members", filter
/// <c>lazy_load_members</c> and <c>include_redundant_members</c>): state carries the members the
/// timeline needs, in initial, incremental and gappy syncs, and not again once a device has them.
/// </summary>
public sealed class LazyLoadedMembersSyncTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private const string LazyFilter = """{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":10}}}""";
    private const string RedundantFilter = """{"room":{"state":{"lazy_load_members":true,"include_redundant_members":true},"timeline":{"limit":10}}}""";

    private Task<MatrixClient> NewUserAsync() => MatrixClient.RegisteredAsync(fixture.Cluster.ApiHosts[0].BaseAddress);

    /// <summary>Alice's public room with a name, and the others joined in order.</summary>
    private static async Task<string> RoomWithAsync(MatrixClient alice, params MatrixClient[] others)
    {
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat", ["name"] = "A room name" });
        foreach (var other in others) await other.JoinAsync(room);
        return room;
    }

    private static async Task<string> SendManyAsync(MatrixClient sender, string room, int count)
    {
        var last = "";
        for (var i = 0; i < count; i++) last = await sender.SendTextAsync(room, $"message {i} from {sender.UserId}");
        return last;
    }

    /// <summary>
    /// Waits until <paramref name="eventId"/> reaches the syncing user's streams, with a sync that keeps no
    /// lazy-loading memory, so that the sync under test from <paramref name="since"/> sees everything sent.
    /// </summary>
    private static Task WaitUntilSyncedAsync(MatrixClient client, string since, string room, string eventId) =>
        client.SyncUntilAsync(since, s => s["rooms"]!["join"]![room]?["timeline"]!["events"]!.AsArray()
            .Any(e => e!["event_id"]!.GetValue<string>() == eventId) ?? false);

    private static async Task<JsonObject> LazySyncAsync(MatrixClient client, string? since = null, string filter = LazyFilter) =>
        await client.SyncAsync(since, "&filter=" + Uri.EscapeDataString(filter));

    private static List<string> MembersInState(JsonObject sync, string room) =>
        sync["rooms"]!["join"]![room]!["state"]!["events"]!.AsArray()
            .Where(e => e!["type"]!.GetValue<string>() == "m.room.member").Select(e => e!["state_key"]!.GetValue<string>()).ToList();

    private static bool Limited(JsonObject sync, string room) => sync["rooms"]!["join"]![room]!["timeline"]!["limited"]!.GetValue<bool>();

    [Fact]
    public async Task An_initial_sync_carries_the_timeline_senders_and_the_user()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        using var charlie = await NewUserAsync();
        var room = await RoomWithAsync(alice, bob, charlie);
        var start = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        await SendManyAsync(bob, room, 10);
        await WaitUntilSyncedAsync(alice, start, room, await SendManyAsync(charlie, room, 10));

        var sync = await LazySyncAsync(alice);
        MembersInState(sync, room).Should().BeEquivalentTo([charlie.UserId, alice.UserId],
            "only Charlie speaks in the last ten events; the user's own membership always comes on a full sync");
    }

    [Fact]
    public async Task An_incremental_sync_carries_only_members_new_to_the_device()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        using var charlie = await NewUserAsync();
        var room = await RoomWithAsync(alice, bob, charlie);
        var start = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        await WaitUntilSyncedAsync(alice, start, room, await SendManyAsync(bob, room, 10));
        var initial = await LazySyncAsync(alice);
        MembersInState(initial, room).Should().BeEquivalentTo([bob.UserId, alice.UserId]);
        var since = initial["next_batch"]!.GetValue<string>();

        await WaitUntilSyncedAsync(alice, since, room, await charlie.SendTextAsync(room, "from charlie"));
        var incremental = await LazySyncAsync(alice, since);
        Limited(incremental, room).Should().BeFalse();
        MembersInState(incremental, room).Should().BeEquivalentTo([charlie.UserId], "Charlie's membership is new to this device, and his message needs it");

        // A client that retries with the same token did not get the answer: it gets Charlie again.
        MembersInState(await LazySyncAsync(alice, since), room).Should().BeEquivalentTo([charlie.UserId]);

        var next = incremental["next_batch"]!.GetValue<string>();
        await bob.SendTextAsync(room, "bob again");
        await WaitUntilSyncedAsync(alice, next, room, await charlie.SendTextAsync(room, "charlie again"));
        MembersInState(await LazySyncAsync(alice, next), room).Should().BeEmpty("the device already has both memberships");
        MembersInState(await LazySyncAsync(alice, next, RedundantFilter), room).Should().BeEquivalentTo([bob.UserId, charlie.UserId],
            "include_redundant_members asks for them again");
    }

    [Fact]
    public async Task A_gappy_sync_carries_the_timeline_senders_and_the_members_who_changed_in_the_gap()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        using var charlie = await NewUserAsync();
        using var dave = await NewUserAsync();
        using var erin = await NewUserAsync();
        var room = await RoomWithAsync(alice, bob, charlie, dave);
        var start = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();
        await WaitUntilSyncedAsync(alice, start, room, await SendManyAsync(bob, room, 10));
        var initial = await LazySyncAsync(alice);
        MembersInState(initial, room).Should().BeEquivalentTo([bob.UserId, alice.UserId]);
        var since = initial["next_batch"]!.GetValue<string>();

        await SendManyAsync(charlie, room, 10);
        await erin.JoinAsync(room);
        await WaitUntilSyncedAsync(alice, since, room, await SendManyAsync(dave, room, 10));
        var gappy = await LazySyncAsync(alice, since);
        Limited(gappy, room).Should().BeTrue();
        MembersInState(gappy, room).Should().BeEquivalentTo([dave.UserId, erin.UserId],
            "Dave speaks in the timeline and Erin joined in the gap; Charlie's messages never reach the client");
        gappy["rooms"]!["join"]![room]!["state"]!["events"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.name",
            "a gappy sync brings the room's state");
    }
}
