using System.Buffers.Binary;
using Homeserver.Bench;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Bench's scenarios, at toy sizes, against the two-silo test cluster: each completes and
/// reports what it measured, nothing missing or duplicated. Also the PNG chart and the /proc reader.
/// The figures themselves come from real runs (BENCHMARKS.md), never from these tests.
/// </summary>
public sealed class BenchTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private static readonly BenchSizes Toy = new(Senders: 4, Rooms: 3, Messages: 12, DeliveryObservers: 2, DeliveryRooms: 2, DeliveryRate: 20,
        DeliverySeconds: 1, InitialSyncRooms: 3, InitialSyncEvents: 2, FanOutMembers: 4, FanOutMessages: 2);

    [Fact]
    public async Task Every_scenario_runs_against_the_cluster_and_reports_its_figures()
    {
        var scenarios = new Scenarios(fixture.Cluster.ApiHosts[0].BaseAddress, "test", Toy, (_, _) => { });

        var send = await scenarios.SendAsync();
        send.Figures["messages"].Should().Be(12);
        send.Latency!.Count.Should().Be(12);
        send.Figures["sends_per_s"].Should().BePositive();

        var delivery = await scenarios.DeliveryAsync();
        delivery.Figures["missing"].Should().Be(0);
        delivery.Figures["duplicated"].Should().Be(0);
        delivery.Latency!.Count.Should().Be(20 * 2, "each of two observers sees each of the twenty messages");

        var initial = await scenarios.InitialSyncAsync();
        initial.Figures["response_kb"].Should().BePositive();
        initial.Latency!.Count.Should().Be(10);

        var fanOut = await scenarios.FanOutAsync();
        fanOut.Figures["missing"].Should().Be(0);
        fanOut.Figures["duplicated"].Should().Be(0);
        fanOut.Latency!.Count.Should().Be(2 * 4);
    }

    [Fact]
    public void The_chart_is_a_png_and_process_resources_read_from_proc()
    {
        var png = PngChart.Render([("a", [1.0, 2.0, 30.0]), ("b", [0.5, 500.0])]);
        png.AsSpan(0, 8).ToArray().Should().Equal(137, 80, 78, 71, 13, 10, 26, 10);
        System.Text.Encoding.ASCII.GetString(png, 12, 4).Should().Be("IHDR");
        BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)).Should().BeGreaterThan(0);

        var own = ProcessResources.Read([Environment.ProcessId]);
        own.RssMegabytes.Should().BePositive();
        own.CpuSeconds.Should().BePositive();
    }

    [Fact]
    public void Percentiles_pick_the_nearest_rank()
    {
        var latencies = new Latencies();
        foreach (var ms in Enumerable.Range(1, 100)) latencies.Add(ms);
        latencies.Percentile(50).Should().Be(50);
        latencies.Percentile(99).Should().Be(99);
        latencies.Percentile(100).Should().Be(100);
    }
}
