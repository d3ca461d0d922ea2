using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Runtime.Catalog;
using Orleans.Runtime.Invocation;
using Orleans.Runtime.Placement;
using Orleans.Streams;

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
            cluster.Silos.Single(s => s.Name == expected).Services.GetRequiredService<GrainCatalog>()
                .IsActive(typeof(IRoomGrain), room).Should().BeTrue();
        }
        owners["silo1"].Should().BeInRange(70, 130);
        owners["silo2"].Should().BeInRange(70, 130);
        cluster.ApiHosts[0].Services.GetRequiredService<GrainCatalog>().ActivationCount.Should().Be(0, "API hosts host no grains");
    }

    [Fact]
    public async Task Creating_and_sending_persists_signed_events_and_publishes_them_on_the_events_stream()
    {
        var cluster = fixture.Cluster;
        var room = TwoSiloClusterFixture.NewRoomId();
        var seen = new List<EventStreamRow>();
        var arrived = new TaskCompletionSource();
        var streams = cluster.ApiHosts[0].Services.GetRequiredService<IStreamProvider>();
        await using var subscription = await streams.GetStream<EventStreamRow>(StreamId.Create(StreamNames.Events))
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
    public async Task A_second_forced_activation_fences_the_first_so_nothing_is_written_twice()
    {
        var cluster = fixture.Cluster;
        var room = TwoSiloClusterFixture.NewRoomId();
        var grain = cluster.GrainFactory.GetGrain<IRoomGrain>(room);
        var created = await grain.CreateAsync(new CreateRoomCommand(Alice, "10"));
        var ownerIndex = StablePlacement.Pick(room, 2);
        var intruder = cluster.Silos[1 - ownerIndex];

        // Bypass placement: activate the same room on the other silo, as a split brain would.
        var catalog = intruder.Services.GetRequiredService<GrainCatalog>();
        var methods = GrainInterfaceMap.MethodsOf(typeof(IRoomGrain));
        var message = new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "from the intruder" }, null);
        var intruderSent = (EventSent)(await catalog.InvokeAsync(methods[nameof(IRoomGrain.SendEventAsync)], room, [message]))!;

        // The original activation's epoch is now stale: its append is refused and it steps down.
        var stale = () => grain.SendEventAsync(message with { Content = new JsonObject { ["body"] = "from the original" } });
        var refused = await stale.Should().ThrowAsync<MatrixException>();
        refused.Which.StatusCode.Should().Be(503);

        var reader = cluster.ApiHosts[0].Services.GetRequiredService<EventReader>();
        (await reader.CountAsync(room)).Should().Be(created.EventIds.Count + 1, "the creation events and the intruder's message; nothing twice");
        (await reader.GetJsonAsync(intruderSent.EventId)).Should().NotBeNull();
    }

    [Fact]
    public async Task Rooms_of_a_killed_silo_fail_fast_and_work_again_once_it_is_back()
    {
        var cluster = fixture.Cluster;
        var silo2Rooms = Enumerable.Range(0, 50).Select(_ => TwoSiloClusterFixture.NewRoomId())
            .Where(r => StablePlacement.Pick(r, 2) == 1).Take(3).ToList();
        var silo1Room = Enumerable.Range(0, 50).Select(_ => TwoSiloClusterFixture.NewRoomId()).First(r => StablePlacement.Pick(r, 2) == 0);
        var creationEvents = 0;
        foreach (var r in silo2Rooms.Append(silo1Room))
        {
            creationEvents = (await cluster.GrainFactory.GetGrain<IRoomGrain>(r).CreateAsync(new CreateRoomCommand(Alice, "10"))).EventIds.Count;
        }

        var silo2 = cluster.Silos[1];
        await cluster.KillSiloAsync(silo2);
        try
        {
            foreach (var r in silo2Rooms)
            {
                var send = () => cluster.GrainFactory.GetGrain<IRoomGrain>(r).SendEventAsync(
                    new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "while down" }, null));
                (await send.Should().ThrowAsync<SiloUnavailableException>()).Which.Message.Should().Contain("silo2");
            }
            (await cluster.GrainFactory.GetGrain<IRoomGrain>(silo1Room).SendEventAsync(
                new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "unaffected" }, null)))
                .EventId.Should().StartWith("$");
        }
        finally
        {
            await cluster.RestartSiloAsync(silo2);
        }

        foreach (var r in silo2Rooms)
        {
            var sent = await cluster.GrainFactory.GetGrain<IRoomGrain>(r).SendEventAsync(
                new SendEventCommand(Alice, "m.room.message", null, new JsonObject { ["body"] = "back" }, null));
            sent.EventId.Should().StartWith("$");
            (await cluster.ApiHosts[0].Services.GetRequiredService<EventReader>().CountAsync(r)).Should().Be(creationEvents + 1);
        }
    }

    [Fact]
    public async Task The_replication_listener_refuses_calls_without_the_secret()
    {
        using var http = new HttpClient { DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var silo = fixture.Cluster.Silos[0];
        var response = await http.PostAsync(new Uri(silo.BaseAddress,
            "/_grains/v1/Homeserver.Grains.Interfaces.Rooms.IRoomGrain/GetWriterInfoAsync"),
            new StringContent("""{"key":"!x:test.local","args":[]}"""));
        ((int)response.StatusCode).Should().Be(401);
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
