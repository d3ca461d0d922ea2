using Homeserver.Cluster.Diagnostics;
using Homeserver.Cluster.Http;
using Homeserver.Cluster.Streams;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Transport;
using Homeserver.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Homeserver.Cluster.Hosting;

/// <summary>
/// What every homeserver process is, whatever its roles: an ASP.NET Core host with the listeners
/// its settings give, PostgreSQL, the replication streams, /health, /ready and /metrics.
/// </summary>
public static class ProcessHost
{
    /// <summary>The longest request target (path and query) the API hosts accept: 8 KiB, Kestrel's default.</summary>
    public const int MaxRequestTargetBytes = 8 * 1024;

    /// <summary>The most header bytes the API hosts accept: 32 KiB, Kestrel's default.</summary>
    public const int MaxRequestHeaderBytes = 32 * 1024;

    public static WebApplicationBuilder CreateBuilder(ProcessSettings settings, string[]? args = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Orleans logs every membership and connection step at Information; keep what an operator acts on.
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        // Orleans' placement runs through a Polly pipeline that logs two lines per placement decision at Information.
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        // IHttpClientFactory logs four lines per request (a push per message); failures are logged by their callers.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Twice the limits the API hosts answer with a Matrix error (RequestSizeMiddleware): Kestrel's own refusal has no body.
            kestrel.Limits.MaxRequestLineSize = 2 * MaxRequestTargetBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 2 * MaxRequestHeaderBytes;
            foreach (var listener in settings.Listeners)
            {
                foreach (var address in listener.BindAddresses)
                {
                    kestrel.Listen(address, listener.Port, listen =>
                    {
                        if (listener.Tls is { } tls)
                        {
                            listen.UseHttps(https =>
                            {
                                https.ServerCertificate = tls.Certificate;
                                https.ServerCertificateChain = tls.Chain;
                            });
                        }
                        // After TLS, so it sees the plain HTTP that Kestrel writes.
                        listen.UseMatrixErrorBodies();
                    });
                }
            }
        });
        builder.Services.AddProcessServices(settings);
        return builder;
    }

    public static IServiceCollection AddProcessServices(this IServiceCollection services, ProcessSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton<ProcessLog>();
        services.AddSingleton(StorageSessionName.For(settings.InstanceName));
        services.AddHomeserverStorage(settings.DatabaseConnectionString, settings.StreamWriters);
        services.AddReplicationStreams();
        services.AddOutboundHttp(settings.OutboundHttp);
        services.AddFederationClient(settings.Federation, settings.OutboundHttp);
        if (settings.OutboundFederationRestrictedTo.Count > 0 && !settings.OutboundFederationRestrictedTo.Contains(settings.InstanceName))
        {
            services.Replace(ServiceDescriptor.Singleton<IFederationClient, Federation.ProxiedFederationClient>());
        }
        return services;
    }

    /// <summary>Endpoints every process serves: health, readiness and (on listeners with the metrics resource) Prometheus.</summary>
    public static IEndpointRouteBuilder MapProcessEndpoints(this IEndpointRouteBuilder app)
    {
        var services = app.ServiceProvider;
        var settings = services.GetRequiredService<ProcessSettings>();
        var readiness = services.GetRequiredService<IProcessReadiness>();
        app.MapGet("/health", () => Results.Text("OK"));
        app.MapGet("/ready", () => readiness.IsReady ? Results.Text("OK") : Results.Text("starting", statusCode: 503));

        var log = services.GetRequiredService<ProcessLog>();
        foreach (var warning in settings.Warnings) log.ConfigurationWarning(warning);
        if (settings.Kind != ProcessKind.Monolith && settings.Orleans.TlsCertificatePath is null) log.InsecureCluster();

        var metricsPorts = settings.Listeners.Where(l => l.Resources.Contains("metrics")).Select(l => $"*:{l.Port}").ToArray();
        if (metricsPorts.Length > 0)
        {
            // Created now, not at the first scrape: measurements before the listener exists are lost.
            services.GetRequiredService<PrometheusExporter>();
            app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4"))
                .RequireHost(metricsPorts);
        }
        return app;
    }
}
