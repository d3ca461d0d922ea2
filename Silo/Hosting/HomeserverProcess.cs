using System.Net;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Rooms;
using Homeserver.Grains.Push;
using Homeserver.Silo.BackgroundTasks;
using Homeserver.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime.Diagnostics;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Remote;

namespace Homeserver.Silo.Hosting;

/// <summary>
/// Composes one homeserver process from its settings: the same code builds a monolith, a silo
/// and an API host; only the roles differ.
/// </summary>
public static class HomeserverProcess
{
    public static WebApplicationBuilder CreateBuilder(ProcessSettings settings, string[]? args = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            foreach (var listener in settings.Listeners)
            {
                foreach (var address in listener.BindAddresses)
                {
                    // Grain calls between processes use HTTP/2 without TLS, which needs a port that speaks only HTTP/2.
                    kestrel.Listen(address, listener.Port, l => l.Protocols =
                        listener.IsReplicationOnly ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2);
                }
            }
        });
        builder.Services.AddHomeserverProcess(settings);
        return builder;
    }

    public static IServiceCollection AddHomeserverProcess(this IServiceCollection services, ProcessSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<HostLog>();
        services.AddSingleton<ServerIdentityHolder>();
        services.AddSingleton<StartupTasks>();
        services.AddHostedService(sp => sp.GetRequiredService<StartupTasks>());
        services.AddSingleton(sp => sp.GetRequiredService<ServerIdentityHolder>().Identity);
        services.AddHomeserverStorage(settings.DatabaseConnectionString, settings.StreamWriters);
        services.AddHomeserverGrains();
        if (settings.HostsGrains && settings.PusherInstances.Contains(settings.InstanceName))
        {
            services.AddSingleton(new PusherOptions(settings.PusherInstances.ToList().IndexOf(settings.InstanceName), settings.PusherInstances.Count));
            services.AddHostedService<PushGatewaySender>();
        }
        if (settings.RunBackgroundTasksOn == settings.InstanceName)
        {
            services.AddSingleton(new BackgroundTaskOptions());
            services.AddSingleton<BackgroundTaskRunner>();
            services.AddHostedService(sp => sp.GetRequiredService<BackgroundTaskRunner>());
        }
        services.AddGrainRuntime(new GrainRuntimeOptions
        {
            InstanceName = settings.InstanceName,
            Instances = new Dictionary<string, Uri>(settings.InstanceMap),
            Roles = new Dictionary<string, IReadOnlyList<string>>(settings.StreamWriters),
            ReplicationSecret = settings.ReplicationSecret,
            ResponseTimeout = settings.GrainResponseTimeout,
        }, settings.HostsGrains ? [typeof(RoomGrain).Assembly] : []);
        if (settings.RedisConfiguration is { } redis)
        {
            services.AddRedisStreams(redis, channelPrefix: (settings.StreamChannelPrefix ?? settings.ServerName) + ":");
        }
        return services;
    }

    /// <summary>Endpoints every process serves: health and readiness, and grain calls on replication listeners.</summary>
    public static WebApplication MapHomeserverInternals(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<ProcessSettings>();
        var startup = app.Services.GetRequiredService<StartupTasks>();
        app.MapGet("/health", () => Results.Text("OK"));
        app.MapGet("/ready", () => startup.Completed ? Results.Text("OK") : Results.Text("starting", statusCode: 503));

        var log = app.Services.GetRequiredService<HostLog>();
        foreach (var warning in settings.Warnings) log.ConfigurationWarning(warning);

        var metricsPorts = settings.Listeners.Where(l => l.Resources.Contains("metrics")).Select(l => $"*:{l.Port}").ToArray();
        if (metricsPorts.Length > 0)
        {
            // Created now, not at the first scrape: measurements before the listener exists are lost.
            app.Services.GetRequiredService<PrometheusExporter>();
            app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4"))
                .RequireHost(metricsPorts);
        }

        var replicationPorts = settings.Listeners.Where(l => l.Resources.Contains("replication")).ToList();
        if (settings.HostsGrains && replicationPorts.Count > 0)
        {
            app.MapGrainCalls().RequireHost(replicationPorts.Select(l => $"*:{l.Port}").ToArray());
            foreach (var listener in replicationPorts)
            {
                foreach (var address in listener.BindAddresses.Where(a => !IPAddress.IsLoopback(a)))
                {
                    if (settings.ReplicationSecret is null) log.UnprotectedReplicationListener(address.ToString(), listener.Port);
                }
            }
        }
        return app;
    }
}
