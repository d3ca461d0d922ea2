using System.Security.Cryptography.X509Certificates;
using Homeserver.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Cluster.Http;

/// <summary>
/// Outbound HTTP for every process: <see cref="IHttpClientFactory"/>, whose every client (named, typed
/// or default, whoever registers it and in whatever order) connects only where <c>ip_range_blacklist</c>
/// allows and verifies servers against the configured trust.
/// </summary>
public static class OutboundHttpServiceCollectionExtensions
{
    public static IServiceCollection AddOutboundHttp(this IServiceCollection services, OutboundHttpOptions options)
    {
        services.AddHttpClient();
        services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(() => Handler(options)));
        return services;
    }

    private static SocketsHttpHandler Handler(OutboundHttpOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            // Each connection, a redirect's too, goes to an address that was checked (no second lookup to race).
            ConnectCallback = (context, token) => AddressCheckingConnector.ConnectAsync(context.DnsEndPoint, options, token),
        };
        if (options.CustomCertificateAuthorities is { } roots) handler.SslOptions.CertificateChainPolicy = TrustingOnly(roots);
        return handler;
    }

    private static X509ChainPolicy TrustingOnly(X509Certificate2Collection roots)
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
        return policy;
    }
}
