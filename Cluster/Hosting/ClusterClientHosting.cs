using Homeserver.Cluster.Diagnostics;
using Homeserver.Cluster.Security;
using Homeserver.Cluster.Streams;
using Homeserver.Configuration.Processes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Homeserver.Cluster.Hosting;

public static class ClusterClientHosting
{
    /// <summary>
    /// An API host's connection to the silos: it finds their gateways in the membership table, keeps
    /// trying until one answers, and waits at most <c>orleans.response_timeout_seconds</c> for any call.
    /// </summary>
    public static IHostApplicationBuilder AddHomeserverClusterClient(this IHostApplicationBuilder builder, ProcessSettings settings)
    {
        var services = builder.Services;
        services.AddSingleton<ClusterConnection>();
        services.AddSingleton<IProcessReadiness>(sp => sp.GetRequiredService<ClusterConnection>());
        services.AddSingleton<IClusterConnectionStatusObserver>(sp => sp.GetRequiredService<ClusterConnection>());
        services.AddSingleton<IClientConnectionRetryFilter, RetryUntilConnected>();
        services.AddSingleton(new GrainCallTarget("remote"));
        services.AddSingleton<GrainCallMetrics>();
        services.AddSingleton<IOutgoingGrainCallFilter>(sp => sp.GetRequiredService<GrainCallMetrics>());
        services.AddHomeserverSerialization();
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => ClusterIdentity.Apply(o, settings));
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = ClusterIdentity.NpgsqlInvariant;
                o.ConnectionString = settings.DatabaseConnectionString;
            });
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = settings.Orleans.ResponseTimeout);
            client.AddMemoryStreams(ReplicationStreams.ProviderName);
            ClusterTls.Configure(client, settings);
        });
        // After the Orleans client's own hosted service: by the time this starts, the client is connected.
        services.AddHostedService(sp => sp.GetRequiredService<ClusterConnection>());
        return builder;
    }

    private sealed class RetryUntilConnected(ProcessLog log) : IClientConnectionRetryFilter
    {
        private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            log.ClusterUnreachable(exception.Message, Pause.TotalSeconds);
            await Task.Delay(Pause, cancellationToken);
            return !cancellationToken.IsCancellationRequested;
        }
    }
}

/// <summary>
/// Whether this API host is connected to the cluster (its readiness), and the alarm its stream
/// subscriptions catch up on when gateways were lost and found again.
/// </summary>
public sealed class ClusterConnection(StreamDeliveryAlerts alerts, ProcessSettings settings, ProcessLog log)
    : IClusterConnectionStatusObserver, IProcessReadiness, IHostedService
{
    private volatile bool _connected;
    private volatile bool _started;
    private CancellationTokenSource _gatewaysLost = new();

    public bool IsReady => _connected;

    /// <summary>Cancelled whenever this host loses a gateway, so calls in flight through it stop waiting for answers that cannot come.</summary>
    public CancellationToken GatewaysLost => Volatile.Read(ref _gatewaysLost).Token;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = true;
        _connected = true;
        log.Started(settings.InstanceName, settings.Kind.ToString(), settings.ServerName);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started = false;
        _connected = false;
        return Task.CompletedTask;
    }

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways > 0 && _started) _connected = true;
        if (currentNumberOfGateways < previousNumberOfGateways) SignalGatewayLoss();
        if (currentNumberOfGateways < previousNumberOfGateways || connectionRecovered)
        {
            alerts.Raise($"gateways {previousNumberOfGateways} -> {currentNumberOfGateways}");
        }
    }

    public void NotifyClusterConnectionLost()
    {
        _connected = false;
        SignalGatewayLoss();
        alerts.Raise("lost the connection to the cluster");
    }

    private void SignalGatewayLoss()
    {
        var lost = Interlocked.Exchange(ref _gatewaysLost, new CancellationTokenSource());
        // Not disposed: a request may still be linking to its token.
        lost.Cancel();
    }
}
