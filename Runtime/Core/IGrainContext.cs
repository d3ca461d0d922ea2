namespace Orleans.Runtime;

public interface IGrainContext
{
    string PrimaryKey { get; }
    IGrainFactory GrainFactory { get; }
    IServiceProvider ActivationServices { get; }
    void Deactivate(DeactivationReason reason);
    IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period);
}
