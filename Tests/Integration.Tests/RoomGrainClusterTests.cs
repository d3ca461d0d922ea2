using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Storage.Rooms;
using System.Diagnostics;
using Homeserver.Cluster.Streams;
using Homeserver.Grains.Placement;
using Homeserver.Grains.Rooms;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.Runtime;

namespace Homeserver.Tests.Integration;

public sealed class RoomGrainClusterTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private const string Alice = "@alice:test.local";

    [Fact]
    public async Task Two_hundred_rooms_spread_over_both_silos_by_hash_and_each_call_reaches_its_owner()
    {
        var cluster = fixture.Cluster;
        var rooms = Enumerable.Range(0, 200).Select(_ => TwoSiloClusterFixture.NewRoomId()).ToList();
        var owners = new Dictionary<string, int>();
        foreach (var batch in rooms.Chunk(20))
        {
            await Task.WhenAll(batch.Select(r => cluster.GrainFactory.GetGrain<IRoomGrain>(r).CreateAsync(new CreateRoomCommand(Alice, "10"))));
        }
        foreach (var room in rooms)
        {
            var info = await cluster.GrainFactory.GetGrain<IRoomGrain>(room).GetWriterInfoAsync();
            var expected = StablePlacement.Pick(room, 2) == 0 ? "silo1" : "silo2";
            info.Exists.Should().BeTrue();
            info.InstanceName.Should().Be(expected);
            owners[info.InstanceName] = owners.GetValueOrDefault(info.InstanceName) + 1;
        }
        owners["silo1"].Should().BeInRange(70, 130);
        owners["silo2"].Should().BeInRange(70, 130);

        // Orleans' own view agrees: each room's activation lives on the silo placement picked, and only there.
        var statistics = await cluster.GrainFactory.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var activations = statistics.Where(s => rooms.Contains(s.GrainId.Key.ToString()!)).ToList();
        activations.Should().HaveCount(rooms.Count, "one activation per room");
        foreach (var activation in activations)
        {
            var expected = StablePlacement.Pick(activation.GrainId.Key.ToString()!, 2);
            activation.SiloAddress.Should().Be(cluster.Silos[expected].Handle.SiloAddress);
        }
    }

    [Fact]
    public async Task Creating_and_sending_persists_signed_events_and_publishes_them_on_the_events_stream()
    {
        var cluster = fixture.Cluster;
        var room = TwoSiloClusterFixture.NewRoomId();
        var seen = new List<EventStreamRow>();
        var arrived = new TaskCompletionSource();
        var streams = cluster.ApiHosts[0].Services.GetRequiredService<ReplicationStreams>();
        await using var subscription = await streams.Get<EventStreamRow>(StreamId.Create(StreamNames.Events, ""))
            .SubscribeAsync((row, _) =>
            {
                if (row.RoomId != room) return Task.CompletedTask;
                lock (seen) seen.Add(row);
                if (row.Type == "m.room.message") arrived.TrySetResult();
                return Task.CompletedTask;
            });

        var grain = cluster.GrainFactory.GetGrain<IRoomGrain>(room);
        var created = await grain.CreateAsync(new CreateRoomCommand(Alice, "10"));
        var sent = await grain.SendEventAsync(new SendEventCommand(Alice, "m.room.message", null,
            new JsonObject { ["msgtype"] = "m.text", ["body"] = "hello" }, null));
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        lock (seen)
        {
            seen.Select(r => r.EventId).Should().Equal([.. created.EventIds, sent.EventId]);
            seen.Should().OnlyContain(r => r.InstanceName == (StablePlacement.Pick(room, 2) == 0 ? "silo1" : "silo2"));
        }
        var json = await cluster.ApiHosts[0].Services.GetRequiredService<EventReader>().GetJsonAsync(sent.EventId);
        var pdu = JsonNode.Parse(json!)!.AsObject();
        pdu["content"]!["body"]!.GetValue<string>().Should().Be("hello");
        pdu["prev_events"]!.AsArray().Select(e => e!.GetValue<string>()).Should().Equal(created.EventIds[^1]);
        pdu["hashes"]!["sha256"].Should().NotBeNull();
        pdu["signatures"]!["test.local"].Should().NotBeNull();
        sent.EventId.Should().StartWith("$");
    }

    [Fact]
    public async Task A_repeated_client_transaction_returns_the_first_event_and_writes_nothing_new()
    {
        var cluster = fixture.Cluster;
        var room = TwoSiloClusterFixture.NewRoomId();
        var grain = cluster.GrainFactory.GetGrain<IRoomGrain>(room);
        var created = await grain.CreateAsync(new CreateRoomCommand(Alice, "10"));
        var send = new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "once" },
            new ClientTransaction("DEVICE", "txn-1"));

        var first = await grain.SendEventAsync(send);
        var second = await grain.SendEventAsync(send);

        second.EventId.Should().Be(first.EventId);
        second.Deduplicated.Should().BeTrue();
        (await cluster.ApiHosts[0].Services.GetRequiredService<EventReader>().CountAsync(room)).Should().Be(created.EventIds.Count + 1);
    }

    [Fact]
    public async Task A_second_live_writer_of_a_room_fences_the_first_so_nothing_is_written_twice()
    {
        var cluster = fixture.Cluster;
        var room = TwoSiloClusterFixture.NewRoomId();
        var grain = cluster.GrainFactory.GetGrain<IRoomGrain>(room);
        var created = await grain.CreateAsync(new CreateRoomCommand(Alice, "10"));
        var intruderSilo = cluster.Silos[1 - StablePlacement.Pick(room, 2)];

        // Split brain, as Orleans allows during membership changes: a second live writer of the same room
        // on the other silo, with everything a real activation has, claims the room and appends.
        var steppedDown = false;
        var intruder = ActivatorUtilities.CreateInstance<RoomWriter>(intruderSilo.Services, room, (Action)(() => steppedDown = true));
        await intruder.ActivateAsync(CancellationToken.None);
        var message = new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "from the intruder" }, null);
        var intruderSent = await intruder.SendEventAsync(message);

        // The original activation's epoch is now stale: its append is refused and it steps down.
        var stale = () => grain.SendEventAsync(message with { Content = new JsonObject { ["body"] = "from the original" } });
        var refused = await stale.Should().ThrowAsync<MatrixException>();
        refused.Which.StatusCode.Should().Be(503);
        refused.Which.ErrCode.Should().Be("M_UNKNOWN", "the errcode crosses from the silo intact");

        var reader = cluster.ApiHosts[0].Services.GetRequiredService<EventReader>();
        (await reader.CountAsync(room)).Should().Be(created.EventIds.Count + 1, "the creation events and the intruder's message; nothing twice");
        (await reader.GetJsonAsync(intruderSent.EventId)).Should().NotBeNull();
        steppedDown.Should().BeFalse("the intruder holds the newest epoch");

        // The room's next activation claims a newer epoch still, and the intruder is fenced in its turn.
        (await grain.SendEventAsync(message with { Content = new JsonObject { ["body"] = "after" } })).EventId.Should().StartWith("$");
        var late = () => intruder.SendEventAsync(message with { Content = new JsonObject { ["body"] = "too late" } });
        (await late.Should().ThrowAsync<MatrixException>()).Which.StatusCode.Should().Be(503);
        steppedDown.Should().BeTrue();
        (await reader.CountAsync(room)).Should().Be(created.EventIds.Count + 2);
    }

    [Fact]
    public async Task A_killed_silos_rooms_take_sends_on_the_survivor_within_seconds_and_readers_do_not_stall()
    {
        var cluster = fixture.Cluster;
        var silo2Rooms = Enumerable.Range(0, 50).Select(_ => TwoSiloClusterFixture.NewRoomId())
            .Where(r => StablePlacement.Pick(r, 2) == 1).Take(3).ToList();
        var silo1Room = Enumerable.Range(0, 50).Select(_ => TwoSiloClusterFixture.NewRoomId()).First(r => StablePlacement.Pick(r, 2) == 0);
        var creationEvents = 0;
        var epochs = new Dictionary<string, long>();
        foreach (var r in silo2Rooms.Append(silo1Room))
        {
            creationEvents = (await cluster.GrainFactory.GetGrain<IRoomGrain>(r).CreateAsync(new CreateRoomCommand(Alice, "10"))).EventIds.Count;
            epochs[r] = (await cluster.GrainFactory.GetGrain<IRoomGrain>(r).GetWriterInfoAsync()).Epoch;
        }

        var silo2 = cluster.Silos[1];
        await cluster.KillSiloAsync(silo2);
        var sinceKill = Stopwatch.StartNew();
        try
        {
            foreach (var r in silo2Rooms)
            {
                var sent = await SendUntilAcceptedAsync(cluster.GrainFactory.GetGrain<IRoomGrain>(r), TimeSpan.FromSeconds(30));
                sent.EventId.Should().StartWith("$");
                var info = await cluster.GrainFactory.GetGrain<IRoomGrain>(r).GetWriterInfoAsync();
                info.InstanceName.Should().Be("silo1", "the room failed over to the live writer");
                info.Epoch.Should().BeGreaterThan(epochs[r], "the survivor claimed the room");
                (await cluster.ApiHosts[0].Services.GetRequiredService<EventReader>().CountAsync(r)).Should().Be(creationEvents + 1);
            }
            (await cluster.GrainFactory.GetGrain<IRoomGrain>(silo1Room).SendEventAsync(
                new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "unaffected" }, null)))
                .EventId.Should().StartWith("$");
            sinceKill.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "failover is bounded (BENCHMARKS.md has the measured time)");

            // The survivor fenced the dead writer: its sessions are gone and its stream positions are idle, so
            // readers' safe positions pass its last rows.
            await Eventually.WaitUntilAsync(async () =>
            {
                await using var connection = new NpgsqlConnection(cluster.ConnectionString);
                await connection.OpenAsync();
                await using var busy = new NpgsqlCommand("SELECT count(*) FROM stream_positions WHERE instance_name = 'silo2' AND NOT idle", connection);
                return (long)(await busy.ExecuteScalarAsync())! == 0;
            }, "silo2's stream positions to be marked idle");
        }
        finally
        {
            await cluster.RestartSiloAsync(silo2);
        }
        (await cluster.GrainFactory.GetGrain<IRoomGrain>(silo2Rooms[0]).SendEventAsync(
            new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "after the restart" }, null)))
            .EventId.Should().StartWith("$");
    }

    private static async Task<EventSent> SendUntilAcceptedAsync(IRoomGrain grain, TimeSpan bound)
    {
        // One transaction ID for every attempt, as a client retries: the room holds the message once.
        var send = new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "during failover" },
            new ClientTransaction("DEVICE", Guid.NewGuid().ToString("N")));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await grain.SendEventAsync(send);
            }
            catch (Exception e) when (e is SiloUnavailableException or OrleansException or TimeoutException or MatrixException { StatusCode: 503 }
                                      && deadline.Elapsed < bound)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task The_api_host_serves_the_spec_versions()
    {
        using var http = new HttpClient { BaseAddress = fixture.Cluster.ApiHosts[0].BaseAddress };
        var versions = JsonNode.Parse(await http.GetStringAsync("/_matrix/client/versions"))!;
        versions["versions"]!.AsArray().Select(v => v!.GetValue<string>()).Should().Contain("v1.12");
        var unknown = await http.GetAsync("/_matrix/client/v3/not-a-thing");
        ((int)unknown.StatusCode).Should().Be(404);
        JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["errcode"]!.GetValue<string>().Should().Be("M_UNRECOGNIZED");
    }
}
