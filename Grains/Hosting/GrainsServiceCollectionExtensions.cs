using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Streams;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;

namespace Homeserver.Grains.Hosting;

public static class GrainsServiceCollectionExtensions
{
    /// <summary>Services the grain classes of this assembly need, and the durable records behind their streams.</summary>
    public static IServiceCollection AddHomeserverGrains(this IServiceCollection services)
    {
        services.AddSingleton<GrainsLog>();
        services.AddSingleton<SyncHintPublisher>();
        services.AddSingleton<StreamPublisher>();
        services.AddSingleton<Push.PushRuleCache>();
        services.AddSingleton<IStreamCatchUpSource<EventStreamRow>, EventStreamCatchUp>();
        services.AddSingleton<IStreamCatchUpSource<Interfaces.Caches.CacheInvalidationRow>, CacheInvalidationCatchUp>();
        return services;
    }
}
