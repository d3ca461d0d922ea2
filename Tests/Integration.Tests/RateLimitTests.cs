using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration;

/// <summary>A single-silo cluster with Synapse's default rate limits, which are on unless configured otherwise.</summary>
public sealed class DefaultLimitsClusterFixture : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions { InitialSilosCount = 1, RateLimits = RateLimitOptions.Defaults });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class RateLimitTests(DefaultLimitsClusterFixture fixture) : IClassFixture<DefaultLimitsClusterFixture>
{
    [Fact]
    public async Task Messages_beyond_the_burst_get_M_LIMIT_EXCEEDED_with_a_retry_time()
    {
        // rc_registration allows a burst of 3 per address; this class registers one user through it.
        using var client = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await client.RegisterAsync("limited" + Guid.NewGuid().ToString("N")[..8], "pw");
        var room = (await client.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>();

        var statuses = new List<int>();
        JsonObject? limited = null;
        for (var i = 0; i < RateLimitOptions.Defaults.Message.BurstCount + 2; i++)
        {
            var (status, body) = await client.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{i}", """{"body":"x"}""");
            statuses.Add(status);
            if (status == 429) limited = body;
        }

        statuses.Take((int)RateLimitOptions.Defaults.Message.BurstCount).Should().OnlyContain(s => s == 200);
        statuses.Should().Contain(429);
        limited!["errcode"]!.GetValue<string>().Should().Be("M_LIMIT_EXCEEDED");
        limited["retry_after_ms"]!.GetValue<long>().Should().BeGreaterThan(0);
    }
}
