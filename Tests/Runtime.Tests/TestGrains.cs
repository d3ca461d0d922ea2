using Orleans;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime.Hosting;

namespace Homeserver.Tests.Runtime;

public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> IncrementSlowlyAsync(int order);
    Task<IReadOnlyList<int>> GetOrderAsync();
    Task<int> GetMaxConcurrencyAsync();

    [ReadOnly]
    Task<bool> ReadOnlyRendezvousAsync(string name);

    [AlwaysInterleave]
    Task<int> PeekAsync();

    Task HangAsync();
    Task<int> ActivationCountAsync();
    Task DeactivateAsync();
}

public sealed class CounterGrain(ActivationLog activations) : Grain, ICounterGrain
{
    private readonly List<int> _order = [];
    private int _value;
    private int _running;
    private int _maxRunning;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        activations.Activated(GetPrimaryKeyString());
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        activations.Deactivated(GetPrimaryKeyString(), reason);
        return Task.CompletedTask;
    }

    public async Task<int> IncrementSlowlyAsync(int order)
    {
        _maxRunning = Math.Max(_maxRunning, Interlocked.Increment(ref _running));
        _order.Add(order);
        await Task.Yield();
        await Task.Delay(1);
        var value = ++_value;
        Interlocked.Decrement(ref _running);
        return value;
    }

    public Task<IReadOnlyList<int>> GetOrderAsync() => Task.FromResult<IReadOnlyList<int>>(_order.ToArray());
    public Task<int> GetMaxConcurrencyAsync() => Task.FromResult(_maxRunning);

    public async Task<bool> ReadOnlyRendezvousAsync(string name)
    {
        // Two read-only calls meet here: each waits for the other, which only works if they interleave.
        var barrier = activations.Barrier(GetPrimaryKeyString());
        barrier.SignalAndWait(TimeSpan.FromSeconds(10));
        await Task.Yield();
        return true;
    }

    public Task<int> PeekAsync() => Task.FromResult(_value);

    public Task HangAsync() => Task.Delay(Timeout.Infinite);

    public Task<int> ActivationCountAsync() => Task.FromResult(activations.Count(GetPrimaryKeyString()));

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

public sealed class ActivationLog
{
    private readonly Dictionary<string, int> _activations = new();
    private readonly Dictionary<string, Barrier> _barriers = new();
    public List<(string Key, DeactivationReasonCode Reason)> Deactivations { get; } = [];

    public void Activated(string key) { lock (this) _activations[key] = _activations.GetValueOrDefault(key) + 1; }
    public void Deactivated(string key, DeactivationReason reason) { lock (this) Deactivations.Add((key, reason.ReasonCode)); }
    public int Count(string key) { lock (this) return _activations.GetValueOrDefault(key); }
    public Barrier Barrier(string key) { lock (this) return _barriers.TryGetValue(key, out var b) ? b : _barriers[key] = new Barrier(2); }
}

/// <summary>Placed by hash over the "test" role's instances; reports where it runs.</summary>
[WriterPlacement("test")]
public interface IPlacedGrain : IGrainWithStringKey
{
    Task<string> WhereAsync();
    Task FailAsync(string errCode, string message);
    Task<EchoReply> EchoAsync(EchoRequest request);
}

[GenerateSerializer]
public sealed record EchoRequest(string Text, int Number, IReadOnlyList<string> Tags);

[GenerateSerializer]
public sealed record EchoReply(string Text, int Number, IReadOnlyList<string> Tags, string Instance);

public sealed class DomainException(string errCode, string message) : Exception(message)
{
    public string ErrCode { get; } = errCode;
}

public sealed class PlacedGrain(GrainRuntimeOptions options) : Grain, IPlacedGrain
{
    public Task<string> WhereAsync() => Task.FromResult(options.InstanceName);
    public Task FailAsync(string errCode, string message) => throw new DomainException(errCode, message);
    public Task<EchoReply> EchoAsync(EchoRequest request) =>
        Task.FromResult(new EchoReply(request.Text, request.Number, request.Tags, options.InstanceName));
}
