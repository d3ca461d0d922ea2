using Orleans.Runtime.Hosting;
using Orleans.Runtime.Invocation;

namespace Orleans.Runtime.Catalog;

/// <summary>
/// The activations of this process. A key has at most one activation here; placement makes sure
/// only one process is asked for it. Idle activations are collected on a <see cref="TimeProvider"/>
/// timer, so tests can drive collection with a fake clock.
/// </summary>
public sealed class GrainCatalog : IAsyncDisposable
{
    private readonly Dictionary<(Type, string), GrainActivation> _activations = new();
    private readonly GrainTypeRegistry _registry;
    private readonly TimeSpan _collectionAge;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ITimer _collector;

    public GrainCatalog(GrainTypeRegistry registry, GrainRuntimeOptions options, IServiceProvider services,
        TimeProvider timeProvider, RuntimeLog log, Diagnostics.RuntimeMetrics metrics)
    {
        metrics.ObserveActivations(() => ActivationCount);
        _registry = registry;
        _collectionAge = options.CollectionAge;
        _shutdownTimeout = options.ShutdownTimeout;
        Services = services;
        TimeProvider = timeProvider;
        Log = log;
        var sweep = options.CollectionQuantum;
        _collector = timeProvider.CreateTimer(_ => _ = CollectIdleAsync(), null, sweep, sweep);
    }

    internal IServiceProvider Services { get; }
    internal TimeProvider TimeProvider { get; }
    internal RuntimeLog Log { get; }
    internal IGrainFactory GrainFactory => (IGrainFactory)Services.GetService(typeof(IGrainFactory))!;

    public int ActivationCount
    {
        get { lock (_activations) return _activations.Count; }
    }

    public bool CanHost(Type grainInterface) => _registry.TryGetImplementation(grainInterface, out _);

    public bool IsActive(Type grainInterface, string key)
    {
        lock (_activations) return _activations.ContainsKey((grainInterface, key));
    }

    public async Task<object?> InvokeAsync(GrainMethod method, string key, object?[] arguments)
    {
        while (true)
        {
            var activation = GetOrCreate(method.Interface, key);
            try
            {
                return await activation.InvokeAsync(method, arguments).ConfigureAwait(false);
            }
            catch (ActivationDeactivatedException)
            {
                // The activation went away while this call queued; the next one is created fresh.
            }
        }
    }

    public async Task<int> CollectIdleAsync()
    {
        var cutoff = TimeProvider.GetUtcNow() - _collectionAge;
        GrainActivation[] idle;
        lock (_activations)
        {
            idle = _activations.Values.Where(a => !a.Busy && a.LastUsed <= cutoff).ToArray();
        }
        foreach (var activation in idle)
        {
            await activation.DeactivateAsync(new DeactivationReason(DeactivationReasonCode.ActivationIdle,
                $"idle for longer than {_collectionAge}")).ConfigureAwait(false);
        }
        return idle.Length;
    }

    internal void Remove(GrainActivation activation)
    {
        lock (_activations)
        {
            var id = (activation.Interface, activation.PrimaryKey);
            if (_activations.TryGetValue(id, out var current) && ReferenceEquals(current, activation)) _activations.Remove(id);
        }
    }

    private GrainActivation GetOrCreate(Type grainInterface, string key)
    {
        lock (_activations)
        {
            if (_activations.TryGetValue((grainInterface, key), out var existing)) return existing;
            if (!_registry.TryGetImplementation(grainInterface, out var implementation))
            {
                throw new InvalidOperationException($"This process has no implementation of {grainInterface.Name}.");
            }
            var activation = new GrainActivation(this, grainInterface, implementation, key);
            _activations.Add((grainInterface, key), activation);
            return activation;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _collector.Dispose();
        GrainActivation[] all;
        lock (_activations) all = _activations.Values.ToArray();
        // A call that never returns holds its activation's turn forever; shutdown waits on the wall clock, not forever.
        var reason = new DeactivationReason(DeactivationReasonCode.ShuttingDown, "process stopping");
        try
        {
            await Task.WhenAll(all.Select(a => a.DeactivateAsync(reason)))
                .WaitAsync(_shutdownTimeout, TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.ShutdownDeactivationTimedOut(_shutdownTimeout.TotalSeconds);
        }
    }
}
