using Homeserver.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Grains.Federation;

public static class FederationSenderServiceCollectionExtensions
{
    /// <summary>What a federation sender grain needs, in every silo (placement decides where they activate).</summary>
    public static IServiceCollection AddFederationSenderGrains(this IServiceCollection services, FederationSenderOptions options)
    {
        services.AddSingleton(options.Validated());
        services.AddSingleton<FederationSenderMetrics>();
        services.AddSingleton<FederationSenderLog>();
        services.AddSingleton<RoomEduFanOut>();
        services.AddSingleton<OutboxWakeUp>();
        services.AddSingleton<DeviceListFederation>();
        return services;
    }

    /// <summary>Hands new events to the sender grains of the destinations this instance sends to.</summary>
    public static IServiceCollection AddFederationEventFeeder(this IServiceCollection services, FederationSenderInstance instance)
    {
        services.AddSingleton(instance);
        services.AddHostedService<FederationEventFeeder>();
        return services;
    }
}
