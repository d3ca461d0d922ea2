using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans;
using Orleans.Runtime.Catalog;
using Orleans.Runtime.Hosting;

namespace Homeserver.Tests.Runtime;

public sealed class LocalRuntimeTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
    private readonly ActivationLog _log = new();
    private ServiceProvider _services = null!;
    private IGrainFactory _grains = null!;

    public Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddSingleton(_log);
        services.AddGrainRuntime(new GrainRuntimeOptions
        {
            ResponseTimeout = TimeSpan.FromMilliseconds(300),
            CollectionAge = TimeSpan.FromMinutes(10),
            CollectionQuantum = TimeSpan.FromMinutes(1),
            ShutdownTimeout = TimeSpan.FromMilliseconds(200),
        }, typeof(CounterGrain).Assembly);
        _services = services.BuildServiceProvider();
        _grains = _services.GetRequiredService<IGrainFactory>();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task Calls_to_one_activation_run_one_at_a_time_in_arrival_order()
    {
        var grain = _grains.GetGrain<ICounterGrain>("turns");
        var calls = Enumerable.Range(0, 50).Select(i => grain.IncrementSlowlyAsync(i)).ToArray();
        var results = await Task.WhenAll(calls);

        results.Should().BeEquivalentTo(Enumerable.Range(1, 50));
        (await grain.GetOrderAsync()).Should().Equal(Enumerable.Range(0, 50));
        (await grain.GetMaxConcurrencyAsync()).Should().Be(1);
        (await grain.ActivationCountAsync()).Should().Be(1);
    }

    [Fact]
    public async Task Read_only_calls_interleave_with_each_other()
    {
        var grain = _grains.GetGrain<ICounterGrain>("readers");
        var both = await Task.WhenAll(
            Task.Run(() => grain.ReadOnlyRendezvousAsync("a")),
            Task.Run(() => grain.ReadOnlyRendezvousAsync("b")));
        both.Should().AllBeEquivalentTo(true);
    }

    [Fact]
    public async Task An_always_interleave_call_is_not_blocked_by_a_running_call()
    {
        var grain = _grains.GetGrain<ICounterGrain>("interleave");
        var hanging = grain.HangAsync();
        (await grain.PeekAsync()).Should().Be(0);
        _clock.Advance(TimeSpan.FromSeconds(1));
        await FluentActions.Awaiting(() => hanging).Should().ThrowAsync<TimeoutException>();
    }

    [Fact]
    public async Task A_call_that_does_not_answer_in_time_fails_with_a_clear_timeout()
    {
        var grain = _grains.GetGrain<ICounterGrain>("hang");
        var call = grain.HangAsync();
        _clock.Advance(TimeSpan.FromSeconds(1));
        var thrown = await FluentActions.Awaiting(() => call).Should().ThrowAsync<TimeoutException>();
        thrown.Which.Message.Should().Contain("ICounterGrain.HangAsync").And.Contain("hang");
    }

    [Fact]
    public async Task Idle_activations_are_collected_when_the_clock_says_so_and_come_back_on_the_next_call()
    {
        var grain = _grains.GetGrain<ICounterGrain>("idle");
        await grain.IncrementSlowlyAsync(0);
        var catalog = _services.GetRequiredService<GrainCatalog>();

        _clock.Advance(TimeSpan.FromMinutes(5));
        (await catalog.CollectIdleAsync()).Should().Be(0);
        catalog.IsActive(typeof(ICounterGrain), "idle").Should().BeTrue();

        _clock.Advance(TimeSpan.FromMinutes(6));
        await catalog.CollectIdleAsync();
        catalog.IsActive(typeof(ICounterGrain), "idle").Should().BeFalse();
        _log.Deactivations.Should().Contain(("idle", DeactivationReasonCode.ActivationIdle));

        (await grain.IncrementSlowlyAsync(1)).Should().Be(1, "a new activation starts from fresh state");
        _log.Count("idle").Should().Be(2);
    }

    [Fact]
    public async Task The_collection_timer_runs_on_the_injected_time_provider()
    {
        var grain = _grains.GetGrain<ICounterGrain>("timer-collected");
        await grain.IncrementSlowlyAsync(0);
        var catalog = _services.GetRequiredService<GrainCatalog>();
        var collected = new TaskCompletionSource();
        _ = Task.Run(async () =>
        {
            while (catalog.IsActive(typeof(ICounterGrain), "timer-collected")) await Task.Delay(10);
            collected.SetResult();
        });

        _clock.Advance(TimeSpan.FromMinutes(11));
        await collected.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task DeactivateOnIdle_ends_the_activation_after_the_call()
    {
        var grain = _grains.GetGrain<ICounterGrain>("self-deactivate");
        await grain.IncrementSlowlyAsync(0);
        await grain.DeactivateAsync();
        _log.Deactivations.Should().Contain(("self-deactivate", DeactivationReasonCode.ApplicationRequested));
        (await grain.PeekAsync()).Should().Be(0);
    }
}
