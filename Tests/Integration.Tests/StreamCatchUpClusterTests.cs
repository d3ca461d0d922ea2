using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Interfaces.Users;
using Microsoft.Extensions.DependencyInjection;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;

namespace Homeserver.Tests.Integration;

public sealed class StreamCatchUpClusterTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private const string Bob = "@bob:test.local";

    [Fact]
    public async Task A_late_subscriber_catches_up_from_postgres_by_position_then_follows_the_orleans_stream()
    {
        var cluster = fixture.Cluster;
        var room = TwoSiloClusterFixture.NewRoomId();
        var grain = cluster.GrainFactory.GetGrain<IRoomGrain>(room);
        var created = await grain.CreateAsync(new CreateRoomCommand(Bob, "10"));
        var before = new List<string>(created.EventIds);
        for (var i = 0; i < 5; i++)
        {
            before.Add((await grain.SendEventAsync(new SendEventCommand(Bob, "m.room.message", null,
                new JsonObject { ["body"] = $"before {i}" }, null))).EventId);
        }

        // Subscribe from a position before the room existed: everything since arrives from PostgreSQL.
        var seen = new List<string>();
        var all = new TaskCompletionSource();
        var streams = cluster.ApiHosts[0].Services.GetRequiredService<ReplicationStreams>();
        await using var subscription = await streams.Get<EventStreamRow>(StreamId.Create(StreamNames.Events, ""))
            .SubscribeAsync((row, _) =>
            {
                if (row.RoomId != room) return Task.CompletedTask;
                lock (seen)
                {
                    seen.Add(row.EventId);
                    if (seen.Count == before.Count + 3) all.TrySetResult();
                }
                return Task.CompletedTask;
            }, 0);
        await subscription.CatchUpAsync();

        var after = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            after.Add((await grain.SendEventAsync(new SendEventCommand(Bob, "m.room.message", null,
                new JsonObject { ["body"] = $"after {i}" }, null))).EventId);
        }
        await all.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await subscription.CatchUpAsync();

        lock (seen) seen.Should().Equal(before.Concat(after), "every event exactly once, in the room's order");
    }

    [Fact]
    public async Task Account_data_is_persisted_by_the_user_grain_on_its_writer()
    {
        var user = $"@{Guid.NewGuid():N}:test.local";
        var grain = fixture.Cluster.GrainFactory.GetGrain<IUserGrain>(user);
        var first = await grain.SetAccountDataAsync(null, "m.direct", new JsonObject { ["@a:b"] = new JsonArray("!r:b") });
        var second = await grain.SetAccountDataAsync("!room:test.local", "m.tag", new JsonObject { ["tags"] = new JsonObject() });

        second.Should().BeGreaterThan(first);
        (await grain.GetAccountDataAsync(null, "m.direct"))!["@a:b"]![0]!.GetValue<string>().Should().Be("!r:b");
        (await grain.GetAccountDataAsync("!room:test.local", "m.tag")).Should().NotBeNull();
        (await grain.GetAccountDataAsync(null, "m.tag")).Should().BeNull("room and global account data are separate");
    }
}
