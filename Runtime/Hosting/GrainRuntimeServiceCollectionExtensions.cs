using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime.Catalog;
using Orleans.Runtime.Diagnostics;
using Orleans.Runtime.Invocation;
using Orleans.Runtime.Placement;
using Orleans.Runtime.Remote;
using Orleans.Streams;

namespace Orleans.Runtime.Hosting;

public static class GrainRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// The grain runtime for one process: a client for every grain, and activations for the grain
    /// classes in <paramref name="grainAssemblies"/> that placement assigns to this instance.
    /// </summary>
    public static IServiceCollection AddGrainRuntime(this IServiceCollection services, GrainRuntimeOptions options,
        params Assembly[] grainAssemblies)
    {
        var registry = new GrainTypeRegistry();
        foreach (var assembly in grainAssemblies) registry.AddAssembly(assembly);

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<RuntimeMetrics>();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton(options);
        services.AddSingleton(registry);
        services.AddSingleton<RuntimeLog>();
        services.AddSingleton<GrainCatalog>();
        services.AddSingleton<PlacementDirector>();
        services.AddSingleton<RemoteGrainCaller>();
        services.AddSingleton<IGrainCallInvoker, GrainCallDispatcher>();
        services.AddSingleton<ClusterClient>();
        services.AddSingleton<IClusterClient>(sp => sp.GetRequiredService<ClusterClient>());
        services.AddSingleton<IGrainFactory>(sp => sp.GetRequiredService<ClusterClient>());
        services.TryAddSingleton(new StreamOptions());
        services.TryAddSingleton<IStreamTransport, InProcessStreamTransport>();
        services.AddSingleton<IStreamProvider, StreamProvider>();
        return services;
    }

    /// <summary>Stream rows between processes over Redis pub/sub instead of in-process.</summary>
    public static IServiceCollection AddRedisStreams(this IServiceCollection services, string configuration, string channelPrefix)
    {
        services.RemoveAll<IStreamTransport>();
        services.AddSingleton<IStreamTransport>(_ => new RedisStreamTransport(configuration, channelPrefix));
        return services;
    }
}
