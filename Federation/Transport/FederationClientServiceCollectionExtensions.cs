using Homeserver.Configuration;
using Homeserver.Federation.Discovery;
using Homeserver.Federation.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Transport;

public static class FederationClientServiceCollectionExtensions
{
    /// <summary>
    /// <see cref="IFederationClient"/> and the discovery behind it, and the key ring that fetches and verifies other servers' keys through it, within <paramref name="limits"/> and trusting what
    /// <paramref name="trust"/> (<c>federation_custom_ca_list</c>) says. Every process kind calls it: API hosts
    /// fetch and verify keys, silos send transactions.
    /// </summary>
    public static IServiceCollection AddFederationClient(this IServiceCollection services, FederationClientOptions limits, OutboundHttpOptions trust)
    {
        services.AddOptions<FederationTransportOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FederationTransportOptions>, FederationTransportOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ServerSigningKeys>();
        services.AddSingleton(limits);
        services.AddSingleton(sp => new FederationConnector(limits, trust, sp.GetRequiredService<IHostAddressResolver>(),
            sp.GetRequiredService<IOptions<FederationTransportOptions>>(), sp.GetRequiredService<FederationTransportLog>()));
        services.AddSingleton<FederationTransportLog>();
        services.AddSingleton<DnsLookupClient>();
        services.AddSingleton<IHostAddressResolver, HostAddressResolver>();
        services.AddSingleton<SrvResolver>();
        services.AddSingleton<WellKnownFetcher>();
        services.AddSingleton<WellKnownResolver>();
        services.AddSingleton<FederationTargetResolver>();
        services.AddSingleton<IFederationClient, FederationClient>();
        services.AddSingleton<KeyRingLog>();
        services.AddSingleton<ServerKeyFetcher>();
        services.AddSingleton<KeyRing>();
        services.AddSingleton<KeyNotary>();
        services.AddSingleton<Events.PduVerifier>();
        return services;
    }
}
