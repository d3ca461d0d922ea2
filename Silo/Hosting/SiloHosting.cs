using System.Net;
using System.Net.Sockets;
using Homeserver.Cluster.Diagnostics;
using Homeserver.Cluster.Hosting;
using Homeserver.Cluster.Security;
using Homeserver.Cluster.Streams;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Placement;
using Homeserver.Grains.Push;
using Homeserver.Silo.BackgroundTasks;
using Homeserver.Silo.Filters;
using Homeserver.Silo.Membership;
using Homeserver.Silo.Placement;
using Homeserver.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Homeserver.Silo.Hosting;

/// <summary>
/// The silo side of a homeserver process (a silo worker, or the monolith): Orleans with the grains,
/// placement by role, membership in the homeserver's PostgreSQL (or, in a monolith, no membership at
/// all), memory streams for replication, and the silo's roles' hosted services.
/// </summary>
public static class SiloHosting
{
    /// <summary>
    /// Membership timings: a killed silo is declared dead in about a second (its connections refuse), a
    /// frozen one in under ten: probes time out after 1 s, two misses suspect it, and the connection
    /// liveness check (which holds votes back while the suspect's last message is recent) is bounded at
    /// 3 s per probe. Orleans' defaults took 6 s and 64 s here.
    /// </summary>
    public static void ConfigureMembership(ClusterMembershipOptions options)
    {
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.MaxProbeTimeout = TimeSpan.FromSeconds(3);
        options.NumMissedProbesLimit = 2;
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        options.TableRefreshTimeout = TimeSpan.FromSeconds(5);
    }

    public static IHostApplicationBuilder AddHomeserverSilo(this IHostApplicationBuilder builder, ProcessSettings settings)
    {
        builder.Services.AddSiloServices(settings);
        builder.UseOrleans(silo => silo.ConfigureHomeserverSilo(settings));
        builder.Services.AddSiloRoleServices(settings);
        return builder;
    }

    /// <summary>Services a silo's grains and its own start-up need (before Orleans is added).</summary>
    public static IServiceCollection AddSiloServices(this IServiceCollection services, ProcessSettings settings)
    {
        services.AddSingleton(sp => StorageSessionName.For(settings.InstanceName, sp.GetRequiredService<ILocalSiloDetails>().SiloAddress.Generation));
        services.AddSingleton<SiloLog>();
        services.AddSingleton<ServerIdentityHolder>();
        services.AddSingleton(sp => sp.GetRequiredService<ServerIdentityHolder>().Identity);
        services.AddSingleton<SiloStartup>();
        services.AddSingleton<IProcessReadiness>(sp => sp.GetRequiredService<SiloStartup>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloStartup>());
        services.AddSingleton<DeadSiloFencing>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<DeadSiloFencing>());
        services.AddSingleton(new GrainCallTarget(settings.Kind == ProcessKind.Monolith ? "in-process" : "from-silo"));
        services.AddSingleton<GrainCallMetrics>();
        services.AddSingleton<IOutgoingGrainCallFilter>(sp => sp.GetRequiredService<GrainCallMetrics>());
        services.AddSingleton<IIncomingGrainCallFilter, DatabaseFailureFilter>();
        services.AddHomeserverSerialization();
        services.AddHomeserverGrains();
        services.AddFederationSenderGrains(settings.FederationSender);
        return services;
    }

    /// <summary>The hosted services of the roles this silo holds (after Orleans, so they start once the silo runs).</summary>
    public static IServiceCollection AddSiloRoleServices(this IServiceCollection services, ProcessSettings settings)
    {
        if (settings.PusherInstances.Contains(settings.InstanceName))
        {
            services.AddPushGatewaySender(new PusherOptions(settings.PusherInstances.ToList().IndexOf(settings.InstanceName), settings.PusherInstances.Count));
        }
        if (settings.FederationSenderInstances.Contains(settings.InstanceName))
        {
            services.AddFederationEventFeeder(new FederationSenderInstance(settings.InstanceName,
                settings.FederationSenderInstances.ToList().IndexOf(settings.InstanceName), settings.FederationSenderInstances.Count, settings.ServerName));
        }
        if (settings.RunBackgroundTasksOn == settings.InstanceName)
        {
            services.AddSingleton(new BackgroundTaskOptions());
            services.AddSingleton<BackgroundTaskRunner>();
            services.AddHostedService(sp => sp.GetRequiredService<BackgroundTaskRunner>());
        }
        return services;
    }

    public static ISiloBuilder ConfigureHomeserverSilo(this ISiloBuilder silo, ProcessSettings settings)
    {
        silo.Configure<ClusterOptions>(o => ClusterIdentity.Apply(o, settings));
        silo.Configure<SiloOptions>(o => o.SiloName = settings.InstanceName);
        silo.Configure<ClusterMembershipOptions>(ConfigureMembership);
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = settings.Orleans.ResponseTimeout);
        silo.AddPlacementDirector<WriterPlacement, WriterPlacementDirector>();
        silo.UseSiloMetadata(new Dictionary<string, string>
        {
            [WriterPlacementDirector.RolesMetadataKey] = string.Join(',', settings.StreamsWrittenHere),
        });
        silo.AddMemoryStreams(ReplicationStreams.ProviderName, streams => streams.ConfigurePullingAgent(agent =>
            agent.Configure(o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(20))));
        if (settings.Kind == ProcessKind.Monolith)
        {
            // One process: no gateway, no membership table; the silo port is bound on loopback only.
            var self = new IPEndPoint(IPAddress.Loopback, settings.Orleans.MonolithSiloPort);
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = IPAddress.Loopback;
                o.SiloPort = self.Port;
                o.GatewayPort = 0;
            });
            silo.UseDevelopmentClustering(self);
            silo.AddMemoryGrainStorage(ReplicationStreams.PubSubStoreName);
            return silo;
        }

        var location = settings.InstanceMap[settings.InstanceName];
        var advertised = Resolve(location.Host);
        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = advertised;
            o.SiloPort = location.Port;
            o.GatewayPort = settings.GatewayPort ?? throw new InvalidOperationException($"{settings.InstanceName} has no orleans_gateway_port.");
            if (!IPAddress.IsLoopback(advertised))
            {
                o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Any, location.Port);
                o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Any, o.GatewayPort);
            }
        });
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = ClusterIdentity.NpgsqlInvariant;
            o.ConnectionString = settings.DatabaseConnectionString;
        });
        // Stream subscriptions live in PostgreSQL, so they survive the silo that held their rendezvous grain.
        // Their writes skip the WAL flush wait: every new stream and every subscription is one, and under load
        // they queued for fsync behind the event writes (BENCHMARKS.md). A PostgreSQL crash can lose the last
        // fraction of a second of them, never corrupt them; the event rows keep synchronous commits.
        silo.AddAdoNetGrainStorage(ReplicationStreams.PubSubStoreName, o =>
        {
            o.Invariant = ClusterIdentity.NpgsqlInvariant;
            o.ConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(settings.DatabaseConnectionString)
            {
                Options = "-c synchronous_commit=off",
            }.ConnectionString;
        });
        ClusterTls.Configure(silo, settings);
        return silo;
    }

    /// <summary>The instance_map host as the address other silos connect to (a compose service name resolves here).</summary>
    private static IPAddress Resolve(string host) =>
        IPAddress.TryParse(host, out var ip) ? ip :
        host == "localhost" ? IPAddress.Loopback :
        Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new InvalidOperationException($"instance_map host {host} does not resolve to an IPv4 address.");
}
