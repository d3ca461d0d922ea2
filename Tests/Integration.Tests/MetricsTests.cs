namespace Homeserver.Tests.Integration;

public sealed class MetricsTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    [Fact]
    public async Task Metrics_show_request_rates_and_latencies_per_route_and_grain_calls_in_prometheus_format()
    {
        using var client = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await client.RegisterAsync("m" + Guid.NewGuid().ToString("N")[..10], "pw");
        await client.PostAsync("/_matrix/client/v3/createRoom", new System.Text.Json.Nodes.JsonObject());

        using var http = new HttpClient { BaseAddress = fixture.Cluster.ApiHosts[0].BaseAddress };
        var response = await http.GetAsync("/metrics");
        ((int)response.StatusCode).Should().Be(200);
        var text = await response.Content.ReadAsStringAsync();

        text.Should().Contain("# TYPE http_server_request_duration_seconds histogram");
        text.Should().MatchRegex("http_server_request_duration_seconds_count\\{[^}]*http_route=\"/_matrix/client/v3/createRoom\"[^}]*\\} 1");
        text.Should().Contain("# TYPE grain_calls_total counter");
        text.Should().MatchRegex("grain_calls_total\\{grain=\"IRoomGrain\",method=\"CreateAsync\",outcome=\"ok\",target=\"remote\"\\} 1");
        text.Should().Contain("# TYPE grain_call_duration_seconds histogram");
        text.Should().Contain("grain_activations 0", "the API host hosts no grains");
        ShouldBeValidExposition(text);

        // Each silo writes the events stream and reports its position and lag per stream.
        foreach (var silo in fixture.Cluster.Silos)
        {
            var siloMetrics = await http.GetStringAsync(new Uri(silo.MetricsAddress, "/metrics"));
            siloMetrics.Should().MatchRegex("stream_writer_position\\{instance=\"" + silo.Name + "\",stream=\"events\"\\} [0-9]+");
            siloMetrics.Should().Contain("stream_writer_lag{instance=\"" + silo.Name + "\",stream=\"events\"} 0");
            siloMetrics.Should().MatchRegex("grain_activations [1-9][0-9]*", "a silo counts the grains it hosts");
            siloMetrics.Should().Contain("# TYPE orleans_", "Orleans' own meters are exported too");
            ShouldBeValidExposition(siloMetrics);
        }
    }

    /// <summary>What Prometheus' parser refuses: a second TYPE line for a name, or one sample line twice.</summary>
    private static void ShouldBeValidExposition(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).Should().OnlyHaveUniqueItems();
        lines.Where(l => !l.StartsWith('#')).Select(l => l[..l.LastIndexOf(' ')]).Should().OnlyHaveUniqueItems();
        lines.Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal) && l.EndsWith(" counter", StringComparison.Ordinal))
            .Should().OnlyContain(l => l.Split(' ')[2].EndsWith("_total", StringComparison.Ordinal));
    }
}
