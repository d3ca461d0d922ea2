using Orleans.Runtime;

namespace Orleans;

/// <summary>Base class of grain implementations, with Orleans' lifecycle hooks.</summary>
public abstract class Grain
{
    private IGrainContext? _context;

    internal void Attach(IGrainContext context) => _context = context;

    protected IGrainContext GrainContext =>
        _context ?? throw new InvalidOperationException("The grain is not activated yet.");

    public IGrainFactory GrainFactory => GrainContext.GrainFactory;

    public IServiceProvider ServiceProvider => GrainContext.ActivationServices;

    public string GetPrimaryKeyString() => GrainContext.PrimaryKey;

    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>Deactivates this activation once the current call returns.</summary>
    protected void DeactivateOnIdle() => GrainContext.Deactivate(
        new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "DeactivateOnIdle"));

    /// <summary>A timer whose callbacks run as turns of this activation, never beside a call.</summary>
    protected IDisposable RegisterGrainTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period) =>
        GrainContext.RegisterTimer(callback, dueTime, period);
}
