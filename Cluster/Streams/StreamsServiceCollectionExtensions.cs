using Homeserver.Grains.Interfaces.Caches;
using Homeserver.Grains.Interfaces.Rooms;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Cluster.Streams;

public static class StreamsServiceCollectionExtensions
{
    /// <summary>The replication streams, with PostgreSQL as the durable record of the events and caches streams.</summary>
    public static IServiceCollection AddReplicationStreams(this IServiceCollection services)
    {
        services.AddSingleton<StreamsLog>();
        services.AddSingleton<StreamDeliveryAlerts>();
        services.AddSingleton(new ReplicationStreamOptions());
        services.AddSingleton<ReplicationStreams>();
        services.AddSingleton<IStreamCatchUpSource<EventStreamRow>, EventStreamCatchUp>();
        services.AddSingleton<IStreamCatchUpSource<CacheInvalidationRow>, CacheInvalidationCatchUp>();
        return services;
    }
}
