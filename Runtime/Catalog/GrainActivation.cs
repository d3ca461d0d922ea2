using Microsoft.Extensions.Logging;
using Orleans.Runtime.Invocation;

namespace Orleans.Runtime.Catalog;

/// <summary>One live grain instance: its turn lock, lifecycle and timers.</summary>
internal sealed class GrainActivation : IGrainContext
{
    private readonly ActivationLock _turns = new();
    private readonly GrainCatalog _catalog;
    private readonly bool _reentrant;
    private readonly List<ITimer> _timers = [];
    private Grain? _grain;
    private Task? _activation;
    private DeactivationReason? _deactivationRequested;

    public GrainActivation(GrainCatalog catalog, Type grainInterface, Type implementation, string key)
    {
        _catalog = catalog;
        Interface = grainInterface;
        Implementation = implementation;
        PrimaryKey = key;
        _reentrant = GrainTypeRegistry.IsReentrant(implementation);
        LastUsed = catalog.TimeProvider.GetUtcNow();
    }

    public Type Interface { get; }
    public Type Implementation { get; }
    public string PrimaryKey { get; }
    public bool Deactivated { get; private set; }
    public DateTimeOffset LastUsed { get; private set; }
    public bool Busy => _turns.QueueLength > 0;
    public IGrainFactory GrainFactory => _catalog.GrainFactory;
    public IServiceProvider ActivationServices => _catalog.Services;

    public async Task<object?> InvokeAsync(GrainMethod method, object?[] arguments)
    {
        var exclusive = !_reentrant && !method.AlwaysInterleave;
        using var turn = exclusive ? await _turns.EnterAsync(method.ReadOnly).ConfigureAwait(false) : null;
        if (Deactivated) throw new ActivationDeactivatedException();
        await EnsureActivatedAsync().ConfigureAwait(false);
        LastUsed = _catalog.TimeProvider.GetUtcNow();
        try
        {
            return await method.InvokeAsync(_grain!, arguments).ConfigureAwait(false);
        }
        finally
        {
            if (_deactivationRequested is { } reason && exclusive)
            {
                await DeactivateInTurnAsync(reason).ConfigureAwait(false);
            }
        }
    }

    public async Task DeactivateAsync(DeactivationReason reason)
    {
        using var turn = await _turns.EnterAsync(readOnly: false).ConfigureAwait(false);
        if (!Deactivated) await DeactivateInTurnAsync(reason).ConfigureAwait(false);
    }

    public void Deactivate(DeactivationReason reason) => _deactivationRequested = reason;

    public IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        ITimer? timer = null;
        timer = _catalog.TimeProvider.CreateTimer(_ => _ = RunTimerTurnAsync(callback), null, dueTime, period);
        lock (_timers) _timers.Add(timer);
        return new TimerRegistration(this, timer);
    }

    private async Task RunTimerTurnAsync(Func<CancellationToken, Task> callback)
    {
        try
        {
            using var turn = _reentrant ? null : await _turns.EnterAsync(readOnly: false).ConfigureAwait(false);
            if (Deactivated || _grain is null) return;
            await callback(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _catalog.Log.GrainTimerFailed(e, Interface.Name, PrimaryKey);
        }
    }

    private Task EnsureActivatedAsync()
    {
        // Reentrant grains may race here; all callers await the same activation task.
        lock (_timers)
        {
            _activation ??= ActivateAsync();
            return _activation;
        }
    }

    private async Task ActivateAsync()
    {
        try
        {
            var grain = (Grain)Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance(_catalog.Services, Implementation);
            grain.Attach(this);
            await grain.OnActivateAsync(CancellationToken.None).ConfigureAwait(false);
            _grain = grain;
            _catalog.Log.GrainActivated(Interface.Name, PrimaryKey);
        }
        catch
        {
            // A failed activation is discarded so the next call starts afresh.
            Deactivated = true;
            _catalog.Remove(this);
            throw;
        }
    }

    private async Task DeactivateInTurnAsync(DeactivationReason reason)
    {
        Deactivated = true;
        lock (_timers)
        {
            foreach (var t in _timers) t.Dispose();
            _timers.Clear();
        }
        try
        {
            if (_grain is not null) await _grain.OnDeactivateAsync(reason, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _catalog.Log.GrainDeactivationFailed(e, Interface.Name, PrimaryKey);
        }
        finally
        {
            _catalog.Remove(this);
            _catalog.Log.GrainDeactivated(Interface.Name, PrimaryKey, reason.ToString());
        }
    }

    private sealed class TimerRegistration(GrainActivation owner, ITimer timer) : IDisposable
    {
        public void Dispose()
        {
            timer.Dispose();
            lock (owner._timers) owner._timers.Remove(timer);
        }
    }
}

/// <summary>The activation was deactivated while the call waited for its turn; the catalog retries.</summary>
internal sealed class ActivationDeactivatedException : Exception;
