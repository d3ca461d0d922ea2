using System.Security.Cryptography.X509Certificates;
using Homeserver.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Cluster.Http;

/// <summary>
/// Outbound HTTP for every process: <see cref="IHttpClientFactory"/>, whose every client (named, typed
/// or default, whoever registers it and in whatever order) verifies servers against the configured trust.
/// </summary>
public static class OutboundHttpServiceCollectionExtensions
{
    public static IServiceCollection AddOutboundHttp(this IServiceCollection services, OutboundHttpOptions options)
    {
        services.AddHttpClient();
        if (options.CustomCertificateAuthorities is { } roots)
        {
            services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(() => TrustingOnly(roots)));
        }
        return services;
    }

    private static SocketsHttpHandler TrustingOnly(X509Certificate2Collection roots)
    {
        // Only these roots, none of the system's; host names are still checked by SslStream itself.
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            // What SslStream does without a policy (and Synapse never checks either): a private CA rarely
            // publishes revocation lists, and an online check would then fail every connection.
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(roots);
        return new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = policy } };
    }
}
