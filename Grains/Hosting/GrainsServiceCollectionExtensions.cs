using Homeserver.Grains.Streams;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Grains.Hosting;

public static class GrainsServiceCollectionExtensions
{
    /// <summary>Services the grain classes of this assembly need.</summary>
    public static IServiceCollection AddHomeserverGrains(this IServiceCollection services)
    {
        services.AddSingleton<GrainsLog>();
        services.AddSingleton<EndToEnd.RemoteDeviceListLog>();
        services.AddSingleton<SyncHintPublisher>();
        services.AddSingleton<StreamPublisher>();
        services.AddSingleton<Push.PushRuleCache>();
        return services;
    }
}
