using System.Diagnostics;
using Orleans.Runtime.Catalog;
using Orleans.Runtime.Diagnostics;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Placement;
using Orleans.Runtime.Remote;

namespace Orleans.Runtime.Invocation;

/// <summary>
/// Sends each grain call where placement says the grain lives: into the local catalog without
/// serialization, or over HTTP/2 to the owning instance. Calls are at most once: a timeout or an
/// unreachable instance surfaces to the caller, never a silent retry.
/// </summary>
public sealed class GrainCallDispatcher(
    PlacementDirector placement,
    GrainCatalog catalog,
    RemoteGrainCaller remote,
    GrainRuntimeOptions options,
    TimeProvider timeProvider,
    RuntimeMetrics metrics) : IGrainCallInvoker
{
    public Task<object?> InvokeAsync(GrainMethod method, string key, object?[] arguments)
    {
        var started = timeProvider.GetTimestamp();
        var owner = placement.Place(method.Interface, key);
        var local = owner == placement.LocalInstance && catalog.CanHost(method.Interface);
        var call = local
            ? WithTimeout(catalog.InvokeAsync(method, key, arguments), method, key, owner)
            : remote.InvokeAsync(owner, method, key, arguments);
        return Measure(call, method, local, started);
    }

    private async Task<object?> Measure(Task<object?> call, GrainMethod method, bool local, long started)
    {
        var outcome = "ok";
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch
        {
            outcome = "error";
            throw;
        }
        finally
        {
            var tags = new TagList { { "grain", method.Interface.Name }, { "method", method.Name }, { "target", local ? "local" : "remote" }, { "outcome", outcome } };
            metrics.Calls.Add(1, tags);
            metrics.CallDuration.Record(timeProvider.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    private async Task<object?> WithTimeout(Task<object?> call, GrainMethod method, string key, string owner)
    {
        try
        {
            return await call.WaitAsync(options.ResponseTimeout, timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"Grain call {method} for {key} on {owner} did not answer within {options.ResponseTimeout.TotalSeconds:0.#} s.");
        }
    }
}

/// <summary>The grain factory handed to API hosts, grains and tests.</summary>
public sealed class ClusterClient(IGrainCallInvoker invoker) : IClusterClient
{
    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey) where TGrainInterface : IGrainWithStringKey =>
        GrainProxy.Create<TGrainInterface>(invoker, primaryKey);
}
