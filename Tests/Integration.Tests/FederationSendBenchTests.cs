using Homeserver.Bench;
using Homeserver.Bench.Federation;
using Homeserver.Tests.Integration.Federation;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Bench's federation_send at toy sizes against a server that trusts the fixture's CA and lets loopback
/// through: Bench's fake servers serve their keys, join through make_join and send_join, and every PDU of
/// their transactions is accepted, in one room and in several.
/// </summary>
public sealed class FederationSendBenchTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    private static readonly BenchSizes Toy = new(FederationOrigins: 2, FederationRooms: 3, FederationPdus: 60, PdusPerTransaction: 10);

    [Fact]
    public async Task Fake_remote_servers_join_and_every_pdu_they_send_is_accepted()
    {
        using var handler = new SocketsHttpHandler();
        var target = new FederationTarget(fixture.BaseAddress, handler, fixture.Ca.IssueFor("127.0.0.1"));

        var results = await new FederationSendScenario(fixture.BaseAddress, target, "test", Toy, (_, _) => { }).RunAsync();

        results.Select(r => r.Figures["rooms"]).Should().Equal(1, 3);
        foreach (var result in results)
        {
            result.Figures["pdus"].Should().Be(40, "each origin's first transaction of ten is a warm-up, not counted");
            result.Figures["refused"].Should().Be(0);
            result.Figures["failed_txns"].Should().Be(0);
            result.Figures["accepted_per_s"].Should().BePositive();
            result.Latency!.Count.Should().Be(4, "each of two origins sends its 30 PDUs as three transactions of ten, the first untimed");
        }
    }
}
