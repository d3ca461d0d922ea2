using Orleans.Runtime;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Placement;

namespace Homeserver.Tests.Runtime;

public sealed class RemoteCallTests : IAsyncLifetime
{
    private const string Secret = "s3cret-for-tests";
    private readonly GrainRuntimeOptions _topology = new() { ResponseTimeout = TimeSpan.FromSeconds(20) };
    private RuntimeProcess _silo1 = null!;
    private RuntimeProcess _silo2 = null!;
    private RuntimeProcess _client = null!;

    public async Task InitializeAsync()
    {
        int p1 = RuntimeProcess.FreePort(), p2 = RuntimeProcess.FreePort(), p3 = RuntimeProcess.FreePort();
        _topology.Instances["silo1"] = new Uri($"http://127.0.0.1:{p1}");
        _topology.Instances["silo2"] = new Uri($"http://127.0.0.1:{p2}");
        _topology.Roles["test"] = ["silo1", "silo2"];
        _silo1 = await RuntimeProcess.StartAsync("silo1", p1, _topology, hostsGrains: true, Secret);
        _silo2 = await RuntimeProcess.StartAsync("silo2", p2, _topology, hostsGrains: true, Secret);
        _client = await RuntimeProcess.StartAsync("api1", p3, _topology, hostsGrains: false, Secret);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _silo2.DisposeAsync();
        await _silo1.DisposeAsync();
    }

    [Fact]
    public async Task Calls_reach_the_instance_that_the_stable_hash_picks()
    {
        var seen = new Dictionary<string, int>();
        for (var i = 0; i < 40; i++)
        {
            var key = $"!room{i}:example.org";
            var where = await _client.Grains.GetGrain<IPlacedGrain>(key).WhereAsync();
            where.Should().Be(_topology.Roles["test"][StablePlacement.Pick(key, 2)]);
            seen[where] = seen.GetValueOrDefault(where) + 1;
        }
        seen.Keys.Should().BeEquivalentTo(["silo1", "silo2"], "40 keys spread over both instances");
    }

    [Fact]
    public async Task Messages_and_results_travel_as_json()
    {
        var reply = await _client.Grains.GetGrain<IPlacedGrain>("echo").EchoAsync(new EchoRequest("héllo \"w\"", 42, ["a", "b"]));
        reply.Text.Should().Be("héllo \"w\"");
        reply.Number.Should().Be(42);
        reply.Tags.Should().Equal("a", "b");
        reply.Instance.Should().Be(_topology.Roles["test"][StablePlacement.Pick("echo", 2)]);
    }

    [Fact]
    public async Task A_grain_exception_reaches_the_remote_caller_as_the_same_type()
    {
        var call = () => _client.Grains.GetGrain<IPlacedGrain>("fails").FailAsync("M_FORBIDDEN", "not allowed");
        var thrown = await call.Should().ThrowAsync<DomainException>();
        thrown.Which.ErrCode.Should().Be("M_FORBIDDEN");
        thrown.Which.Message.Should().Be("not allowed");
    }

    [Fact]
    public async Task A_caller_without_the_right_secret_gets_401()
    {
        await using var intruder = await RuntimeProcess.StartAsync("intruder", RuntimeProcess.FreePort(), _topology,
            hostsGrains: false, secret: "wrong");
        var call = () => intruder.Grains.GetGrain<IPlacedGrain>("secret-check").WhereAsync();
        (await call.Should().ThrowAsync<UnauthorizedAccessException>()).Which.Message.Should().Contain("worker_replication_secret");

        using var http = new HttpClient { DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var response = await http.PostAsync(new Uri(_topology.Instances["silo1"], "/_grains/v1/x/y"), new StringContent("{}"));
        ((int)response.StatusCode).Should().Be(401);
    }

    [Fact]
    public async Task Calls_to_a_stopped_instance_fail_fast_with_SiloUnavailable()
    {
        var key = Enumerable.Range(0, 100).Select(i => $"k{i}").First(k => StablePlacement.Pick(k, 2) == 1);
        (await _client.Grains.GetGrain<IPlacedGrain>(key).WhereAsync()).Should().Be("silo2");
        await _silo2.DisposeAsync();

        var call = () => _client.Grains.GetGrain<IPlacedGrain>(key).WhereAsync();
        (await call.Should().ThrowAsync<SiloUnavailableException>()).Which.Message.Should().Contain("silo2");

        _silo2 = await RuntimeProcess.StartAsync("silo2", _topology.Instances["silo2"].Port, _topology, hostsGrains: true, Secret);
        (await _client.Grains.GetGrain<IPlacedGrain>(key).WhereAsync()).Should().Be("silo2");
    }
}
