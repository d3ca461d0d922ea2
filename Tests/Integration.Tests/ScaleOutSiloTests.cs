using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration;

/// <summary>Its own two-silo cluster: the test adds a third silo for good.</summary>
public sealed class GrowingClusterFixture() : ClusterFixture(apiHosts: 1);

public sealed class ScaleOutSiloTests(GrowingClusterFixture fixture) : IClassFixture<GrowingClusterFixture>
{
    private const string Alice = "@alice:test.local";

    [Fact]
    public async Task A_silo_added_under_load_takes_new_rooms_while_the_old_ones_stay_and_lose_nothing()
    {
        var cluster = fixture.Cluster;
        var oldRooms = Enumerable.Range(0, 6).Select(_ => TwoSiloClusterFixture.NewRoomId()).ToList();
        var owners = new Dictionary<string, string>();
        foreach (var room in oldRooms)
        {
            await cluster.GrainFactory.GetGrain<IRoomGrain>(room).CreateAsync(new CreateRoomCommand(Alice, "10"));
            owners[room] = (await cluster.GrainFactory.GetGrain<IRoomGrain>(room).GetWriterInfoAsync()).InstanceName;
        }

        // Sends keep going into the old rooms while the new silo joins.
        using var stop = new CancellationTokenSource();
        var sent = oldRooms.ToDictionary(r => r, _ => 0);
        var load = oldRooms.Select(room => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var send = new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = $"{i}" },
                    new ClientTransaction("LOAD", $"{room}-{i}"));
                while (true)
                {
                    try
                    {
                        await cluster.GrainFactory.GetGrain<IRoomGrain>(room).SendEventAsync(send);
                        break;
                    }
                    catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException)
                    {
                        await Task.Delay(50);
                    }
                }
                sent[room] = i + 1;
            }
        })).ToList();

        var silo3 = await cluster.StartAdditionalSiloAsync(writesMultiWriterStreams: true);
        var newRooms = new List<string>();
        for (var attempt = 0; attempt < 60 && !newRooms.Any(r => owners[r] == silo3.Name); attempt++)
        {
            var room = TwoSiloClusterFixture.NewRoomId();
            await cluster.GrainFactory.GetGrain<IRoomGrain>(room).CreateAsync(new CreateRoomCommand(Alice, "10"));
            owners[room] = (await cluster.GrainFactory.GetGrain<IRoomGrain>(room).GetWriterInfoAsync()).InstanceName;
            newRooms.Add(room);
            if (owners[room] != silo3.Name) await Task.Delay(200);
        }
        await stop.CancelAsync();
        await Task.WhenAll(load);

        newRooms.Should().Contain(r => owners[r] == silo3.Name, "new rooms are placed on the new silo too");
        var reader = cluster.ApiHosts[0].Services.GetRequiredService<EventReader>();
        foreach (var room in oldRooms)
        {
            (await cluster.GrainFactory.GetGrain<IRoomGrain>(room).GetWriterInfoAsync()).InstanceName.Should().Be(owners[room], "existing rooms stay where they are");
            sent[room].Should().BePositive();
        }
        // Every acknowledged send is in its room exactly once: the counts over all old rooms add up.
        var counts = await Task.WhenAll(oldRooms.Select(r => reader.CountAsync(r)));
        var baseline = await reader.CountAsync(newRooms[0]);
        counts.Select((c, i) => c - sent[oldRooms[i]]).Should().OnlyContain(c => c == baseline, "each old room holds its creation events plus each send once");
    }
}
