using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Sync;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Streams;
using Microsoft.Extensions.DependencyInjection;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;

namespace Homeserver.Tests.Integration;

/// <summary>Two silos and two API hosts on a fresh database.</summary>
public sealed class TwoApiHostClusterFixture() : ClusterFixture(apiHosts: 2);

/// <summary>
/// The scaled-out shape end to end: users on different API hosts, rooms on both silos, an API host
/// restart and a silo crash in the middle (its rooms fail over to the survivor); every message
/// arrives exactly once in room order, and typing, receipts and logouts cross hosts.
/// </summary>
public sealed class ScaleOutClusterTests(TwoApiHostClusterFixture fixture) : IClassFixture<TwoApiHostClusterFixture>
{

    private MatrixClient ClientOn(int host) => new(fixture.Cluster.ApiHosts[host].BaseAddress);

    [Fact]
    public async Task Users_on_two_api_hosts_chat_across_both_silos_through_an_api_host_restart_and_a_silo_crash()
    {
        using var alice = ClientOn(0);
        using var bob = ClientOn(1);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var rooms = new List<string>();
        for (var attempt = 0; rooms.Count < 4 && attempt < 40; attempt++)
        {
            var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
            var silo = Homeserver.Grains.Placement.StablePlacement.Pick(room, 2);
            if (rooms.Count(r => Homeserver.Grains.Placement.StablePlacement.Pick(r, 2) == silo) == 2) continue;
            await bob.JoinAsync(room);
            rooms.Add(room);
        }
        rooms.Select(r => Homeserver.Grains.Placement.StablePlacement.Pick(r, 2)).Distinct().Should().HaveCount(2, "rooms on both silos");

        var expected = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        using var stop = new CancellationTokenSource();
        var atAlice = new Follower(alice, rooms);
        var atBob = new Follower(bob, rooms);
        var following = new[] { atAlice.RunAsync(stop.Token), atBob.RunAsync(stop.Token) };

        async Task SendRoundAsync(int round)
        {
            foreach (var room in rooms)
            {
                foreach (var (client, who) in new[] { (alice, "alice"), (bob, "bob") })
                {
                    var id = await SendWithRetryAsync(client, room, $"{who} {round} in {room}");
                    expected.GetOrAdd(room, _ => []).Add(id);
                }
            }
        }

        await SendRoundAsync(1);
        await fixture.Cluster.RestartApiHostAsync(fixture.Cluster.ApiHosts[1]);
        await SendRoundAsync(2);
        // silo2 crashes and stays down: its rooms take sends again on silo1 (the clients retry with the same transaction IDs).
        var silo2 = fixture.Cluster.Silos[1];
        await fixture.Cluster.KillSiloAsync(silo2);
        await SendRoundAsync(3);
        await SendRoundAsync(4);

        var total = expected.Values.Sum(v => v.Count);
        await Eventually.WaitUntilAsync(() => atAlice.Count >= total && atBob.Count >= total, "both followers to receive every message");
        foreach (var follower in new[] { atAlice, atBob })
        {
            foreach (var room in rooms)
            {
                var received = follower.Received(room);
                received.Should().OnlyHaveUniqueItems();
                received.Should().BeEquivalentTo(expected[room]);
                var history = (await alice.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=f&limit=100")).Body["chunk"]!.AsArray()
                    .Where(e => e!["type"]!.GetValue<string>() == "m.room.message").Select(e => e!["event_id"]!.GetValue<string>()).ToList();
                received.Should().Equal(history, "each room's events arrive in the room's order");
            }
        }

        // After the restart and the crash the ephemeral streams still cross hosts: typing on api1 reaches api2, a receipt on api2 reaches api1.
        // Typing is ephemeral: a notification published while a stream queue was moving is gone, so, as
        // clients do while the user keeps typing, it is sent again until the other side shows it.
        await Eventually.WaitUntilAsync(async () =>
        {
            (await alice.PutAsync($"/_matrix/client/v3/rooms/{rooms[0]}/typing/{Uri.EscapeDataString(alice.UserId)}",
                new JsonObject { ["typing"] = true, ["timeout"] = 20000 })).Status.Should().Be(200);
            for (var i = 0; i < 20 && !atBob.TypingIn(rooms[0]).Contains(alice.UserId); i++) await Task.Delay(50);
            if (atBob.TypingIn(rooms[0]).Contains(alice.UserId)) return true;
            // Typing again only publishes a change, so stop first.
            await alice.PutAsync($"/_matrix/client/v3/rooms/{rooms[0]}/typing/{Uri.EscapeDataString(alice.UserId)}", new JsonObject { ["typing"] = false });
            return false;
        }, "alice's typing at bob");
        var last = expected[rooms[1]].First();
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{rooms[1]}/receipt/m.read/{last}", new JsonObject())).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(() => atAlice.HasReceipt(rooms[1], last, bob.UserId), "bob's receipt at alice");

        await stop.CancelAsync();
        await Task.WhenAll(following);
        await fixture.Cluster.RestartSiloAsync(silo2);
    }

    [Fact]
    public async Task A_logout_on_one_api_host_refuses_the_token_on_the_other()
    {
        using var onFirst = ClientOn(0);
        var name = MatrixClient.NewUserName();
        await onFirst.RegisterAsync(name, "pw");
        using var onSecond = ClientOn(1);
        onSecond.AccessToken = onFirst.AccessToken;
        // Both hosts have resolved (and cached) the token.
        (await onFirst.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200);
        (await onSecond.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200);

        (await onFirst.PostAsync("/_matrix/client/v3/logout", new JsonObject())).Status.Should().Be(200);
        (await onFirst.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401, "the host that logged out forgets at once");
        await Eventually.WaitUntilAsync(async () => (await onSecond.GetAsync("/_matrix/client/v3/account/whoami")).Status == 401,
            "the caches stream to reach the other host");
    }

    [Fact]
    public async Task Each_api_host_follows_only_the_rooms_of_the_users_who_sync_on_it()
    {
        using var alice = ClientOn(0);
        using var bob = ClientOn(1);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var aliceRoom = await alice.CreateRoomAsync(new JsonObject());
        var bobRoom = await bob.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(alice.UserId) });
        var since = (await alice.GetAsync("/_matrix/client/v3/sync")).Body["next_batch"]!.GetValue<string>();
        (await bob.GetAsync("/_matrix/client/v3/sync")).Status.Should().Be(200);

        var first = Notifier(0);
        var second = Notifier(1);
        first.Follows(aliceRoom).Should().BeTrue();
        first.Follows(bobRoom).Should().BeFalse("alice is only invited there");
        second.Follows(bobRoom).Should().BeTrue();
        second.Follows(aliceRoom).Should().BeFalse("nobody syncing on the second host is in alice's room");
        // Orleans subscriptions are per host and partition, made once; following is the host's own filter.
        foreach (var partition in SyncHintStreams.All.Concat(TypingStreams.All))
        {
            (await SubscribersAsync(partition)).Should().Be(2, "each host that serves syncs subscribes once to every partition");
        }
        (await SubscribersAsync(StreamId.Create(StreamNames.Events, ""))).Should().Be(0, "no API host follows every event");

        // Alice joins while her long poll waits: the join reaches her own hint stream, her host starts
        // following the room, and bob's next message there reaches her.
        // The poll may also end on other news (bob's presence, say): sync on until the join is in an answer.
        var poll = alice.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=30000");
        await alice.JoinAsync(bobRoom);
        while (true)
        {
            var body = (await poll).Body;
            since = body["next_batch"]!.GetValue<string>();
            if (body["rooms"]?["join"]?[bobRoom] is not null) break;
            poll = alice.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=30000");
        }
        first.Follows(bobRoom).Should().BeTrue();
        var sent = await SendWithRetryAsync(bob, bobRoom, "hello alice");
        for (var seen = false; !seen;)
        {
            var body = (await alice.GetAsync($"/_matrix/client/v3/sync?since={since}&timeout=30000")).Body;
            since = body["next_batch"]!.GetValue<string>();
            seen = body["rooms"]!["join"]![bobRoom]?["timeline"]!["events"]!.AsArray().Any(e => e!["event_id"]!.GetValue<string>() == sent) ?? false;
        }

        // Once nobody there syncs any more, the host lets go of the rooms.
        await first.UnfollowIdleAsync(TimeSpan.Zero);
        first.Follows(aliceRoom).Should().BeFalse();
        (await SubscribersAsync(SyncHintStreams.PartitionOf(SyncHintStreams.RoomTopic(aliceRoom)))).Should().Be(2,
            "letting go of a room is local: the partition subscriptions stay, so no Orleans handshake races the next hint");
    }

    [Fact]
    public async Task A_room_hint_wakes_only_the_syncs_of_that_rooms_members()
    {
        using var alice = ClientOn(0);
        using var bob = ClientOn(0);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var aliceRoom = await alice.CreateRoomAsync(new JsonObject());
        var bobRoom = await bob.CreateRoomAsync(new JsonObject());
        var notifier = Notifier(0);
        // Listeners of users nothing else happens to, so only the rooms' hints can wake them.
        using var atAlice = await notifier.ListenAsync($"@quiet-{Guid.NewGuid():N}:localhost", CancellationToken.None);
        await atAlice.FollowRoomsAsync([aliceRoom], atAlice.NextRead(), CancellationToken.None);
        using var atBob = await notifier.ListenAsync($"@quiet-{Guid.NewGuid():N}:localhost", CancellationToken.None);
        await atBob.FollowRoomsAsync([bobRoom], atBob.NextRead(), CancellationToken.None);
        // The room creation's own hints may still be on their way: a marker after them, in order on their partition.
        var settled = atAlice.NextChangeAsync(CancellationToken.None);
        await SendWithRetryAsync(alice, aliceRoom, "marker");
        await settled.WaitAsync(TimeSpan.FromSeconds(30));
        while (true)
        {
            var next = atAlice.NextChangeAsync(CancellationToken.None);
            if (await Task.WhenAny(next, Task.Delay(500)) != next) break;
        }
        var aliceWoken = atAlice.NextChangeAsync(CancellationToken.None);
        var bobWoken = atBob.NextChangeAsync(CancellationToken.None);

        await SendWithRetryAsync(bob, bobRoom, "for bob's room");
        await bobWoken.WaitAsync(TimeSpan.FromSeconds(30));
        aliceWoken.IsCompleted.Should().BeFalse("nothing happened in alice's rooms");

        await SendWithRetryAsync(alice, aliceRoom, "for alice's room");
        await aliceWoken.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_room_hint_reaches_every_listener_when_many_start_following_at_once()
    {
        // The bench's fan-out: hundreds of users begin syncing on both hosts while the room is live.
        using var sender = ClientOn(0);
        await sender.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await sender.CreateRoomAsync(new JsonObject());
        var listeners = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            var listener = await Notifier(i % 2).ListenAsync($"@fan{i}-{Guid.NewGuid():N}:localhost", CancellationToken.None);
            await listener.FollowRoomsAsync([room], listener.NextRead(), CancellationToken.None);
            return listener;
        }));
        try
        {
            for (var message = 0; message < 3; message++)
            {
                var woken = listeners.Select(l => l.NextChangeAsync(CancellationToken.None)).ToList();
                await SendWithRetryAsync(sender, room, $"to all {message}");
                await Task.WhenAll(woken).WaitAsync(TimeSpan.FromSeconds(60));
            }
        }
        finally
        {
            foreach (var listener in listeners) listener.Dispose();
        }
    }

    [Fact]
    public async Task An_older_sync_finishing_last_does_not_undo_the_rooms_a_newer_one_followed()
    {
        using var alice = ClientOn(0);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject());
        var notifier = Notifier(0);
        using var listener = await notifier.ListenAsync(alice.UserId, CancellationToken.None);
        var older = listener.NextRead();
        var newer = listener.NextRead();

        await listener.FollowRoomsAsync([room], newer, CancellationToken.None);
        await listener.FollowRoomsAsync([], older, CancellationToken.None);
        await notifier.UnfollowIdleAsync(TimeSpan.Zero);
        notifier.Follows(room).Should().BeTrue("the older room list, read before the join, must not win");

        await listener.FollowRoomsAsync([], listener.NextRead(), CancellationToken.None);
        await notifier.UnfollowIdleAsync(TimeSpan.Zero);
        notifier.Follows(room).Should().BeFalse("a newer read without the room lets it go");
    }

    private SyncNotifier Notifier(int host) => fixture.Cluster.ApiHosts[host].Services.GetRequiredService<SyncNotifier>();

    /// <summary>How many Orleans stream subscriptions the API hosts hold on the stream.</summary>
    private Task<int> SubscribersAsync(StreamId stream) => Task.FromResult(fixture.Cluster.ApiHosts
        .Sum(h => h.Services.GetRequiredService<ReplicationStreams>().SubscriptionCount(stream)));

    private static async Task<string> SendWithRetryAsync(MatrixClient client, string room, string body)
    {
        // One transaction ID for every attempt: a retry after a host restart cannot send twice.
        var txn = Guid.NewGuid().ToString("N");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var (status, response) = await client.PutAsync($"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}",
                    new JsonObject { ["msgtype"] = "m.text", ["body"] = body });
                if (status == 200) return response["event_id"]!.GetValue<string>();
                if (attempt > 50) throw new InvalidOperationException($"send kept failing with {status}: {response.ToJsonString()}");
            }
            catch (HttpRequestException) when (attempt < 50)
            {
            }
            await Task.Delay(100);
        }
    }

    /// <summary>A client's sync loop: resumes from its last token after any failure, as a real client does.</summary>
    private sealed class Follower(MatrixClient client, IReadOnlyList<string> rooms)
    {
        private readonly ConcurrentDictionary<string, List<string>> _messages = new();
        private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _typing = new();
        private readonly ConcurrentDictionary<(string Room, string Event, string User), bool> _receipts = new();
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public List<string> Received(string room) { lock (_messages) return [.. _messages.GetValueOrDefault(room) ?? []]; }

        public IReadOnlyList<string> TypingIn(string room) => _typing.GetValueOrDefault(room) ?? [];

        public bool HasReceipt(string room, string eventId, string user) => _receipts.ContainsKey((room, eventId, user));

        public async Task RunAsync(CancellationToken stop)
        {
            string? since = null;
            var filter = Uri.EscapeDataString("""{"room":{"timeline":{"limit":100}}}""");
            while (!stop.IsCancellationRequested)
            {
                JsonObject body;
                try
                {
                    var (status, response) = await client.GetAsync($"/_matrix/client/v3/sync?timeout=2000&filter={filter}{(since is null ? "" : $"&since={since}")}");
                    if (status != 200) { await Task.Delay(100, CancellationToken.None); continue; }
                    body = response;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, CancellationToken.None);
                    continue;
                }
                since = body["next_batch"]!.GetValue<string>();
                foreach (var (room, value) in body["rooms"]!["join"]!.AsObject())
                {
                    if (!rooms.Contains(room)) continue;
                    foreach (var e in value!["timeline"]!["events"]!.AsArray().Where(e => e!["type"]!.GetValue<string>() == "m.room.message"))
                    {
                        lock (_messages) _messages.GetOrAdd(room, _ => []).Add(e!["event_id"]!.GetValue<string>());
                        Interlocked.Increment(ref _count);
                    }
                    foreach (var e in value["ephemeral"]!["events"]!.AsArray())
                    {
                        if (e!["type"]!.GetValue<string>() == "m.typing")
                        {
                            _typing[room] = e["content"]!["user_ids"]!.AsArray().Select(u => u!.GetValue<string>()).ToList();
                        }
                        else if (e["type"]!.GetValue<string>() == "m.receipt")
                        {
                            foreach (var (eventId, byType) in e["content"]!.AsObject())
                            {
                                foreach (var user in (byType?["m.read"] as JsonObject ?? []).Select(kv => kv.Key)) _receipts[(room, eventId, user)] = true;
                            }
                        }
                    }
                }
            }
        }
    }
}
