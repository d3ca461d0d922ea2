using Orleans.Runtime.Catalog;
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
    TimeProvider timeProvider) : IGrainCallInvoker
{
    public Task<object?> InvokeAsync(GrainMethod method, string key, object?[] arguments)
    {
        var owner = placement.Place(method.Interface, key);
        if (owner == placement.LocalInstance && catalog.CanHost(method.Interface))
        {
            return WithTimeout(catalog.InvokeAsync(method, key, arguments), method, key, owner);
        }
        return remote.InvokeAsync(owner, method, key, arguments);
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
