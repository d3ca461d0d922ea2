using System.Net;
using System.Net.Sockets;
using Homeserver.ApiHost.Hosting;
using Homeserver.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Streams;

namespace Orleans.TestingHost;

/// <summary>
/// N silos and M API hosts in this process, each a separate host with its own ports, DI container
/// and database connections, on loopback, against a fresh database. Between them, grain calls go
/// over HTTP/2 with the replication secret and streams over Redis, exactly as between processes.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly TestClusterOptions _options;
    private readonly List<ProcessHandle> _silos = [];
    private readonly List<ProcessHandle> _apiHosts = [];
    private readonly InProcessStreamTransport _sharedTransport = new();
    private Dictionary<string, Uri> _instanceMap = new();
    private readonly Dictionary<string, int> _metricsPorts = new();
    private Dictionary<string, IReadOnlyList<string>> _writers = new();
    private string? _adminConnectionString;

    internal TestCluster(TestClusterOptions options) => _options = options;

    public IReadOnlyList<ProcessHandle> Silos => _silos;
    public IReadOnlyList<ProcessHandle> ApiHosts => _apiHosts;
    public string DatabaseName { get; } = "hs_cluster_" + Guid.NewGuid().ToString("N")[..16];
    public string ConnectionString { get; private set; } = "";

    /// <summary>The grain factory of the first API host: calls go where placement says, like a client request's would.</summary>
    public IGrainFactory GrainFactory => _apiHosts[0].GrainFactory;

    public async Task DeployAsync()
    {
        _adminConnectionString = _options.PostgresAdminConnectionString ?? throw new InvalidOperationException(
            "No PostgreSQL for the test cluster: set HS_TEST_POSTGRES (scripts/test does).");
        await using (var admin = new NpgsqlConnection(_adminConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {DatabaseName}", admin);
            await create.ExecuteNonQueryAsync();
        }
        ConnectionString = new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = DatabaseName }.ConnectionString;

        var siloNames = Enumerable.Range(1, _options.InitialSilosCount).Select(i => $"silo{i}").ToList();
        _instanceMap = siloNames.ToDictionary(n => n, _ => new Uri($"http://127.0.0.1:{FreePort()}"));
        // Every silo writes every multi-writer stream, sharded by hash over all of them; the
        // single-writer streams live on the first silo.
        _writers = new Dictionary<string, IReadOnlyList<string>>
        {
            ["events"] = siloNames,
            ["account_data"] = siloNames,
            ["receipts"] = siloNames,
            ["to_device"] = siloNames,
            ["device_lists"] = siloNames,
            ["push_rules"] = siloNames,
            ["typing"] = [siloNames[0]],
            ["presence"] = [siloNames[0]],
            ["caches"] = siloNames,
        };

        // The first silo applies migrations alone; the rest would only queue on the advisory lock.
        foreach (var name in siloNames) _silos.Add(await StartAsync(name, ProcessKind.Silo, _instanceMap[name].Port));
        for (var i = 1; i <= _options.ApiHostCount; i++) _apiHosts.Add(await StartAsync($"api{i}", ProcessKind.ApiHost, FreePort()));
    }

    /// <summary>Stops a silo abruptly; its grains become unreachable (static placement has no failover).</summary>
    public Task KillSiloAsync(ProcessHandle silo) => KillAsync(silo);

    /// <summary>Starts a killed silo again under its name and port, with the same roles.</summary>
    public Task RestartSiloAsync(ProcessHandle silo) => RestartAsync(silo);

    /// <summary>Stops and starts an API host on the same port: clients keep their tokens and carry on.</summary>
    public async Task RestartApiHostAsync(ProcessHandle apiHost)
    {
        await KillAsync(apiHost);
        await RestartAsync(apiHost);
    }

    private static async Task KillAsync(ProcessHandle process)
    {
        if (!process.IsRunning) return;
        process.IsRunning = false;
        using var abrupt = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        try
        {
            await process.App.StopAsync(abrupt.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await process.App.DisposeAsync();
    }

    private async Task RestartAsync(ProcessHandle process)
    {
        if (process.IsRunning) throw new InvalidOperationException($"{process.Name} is running.");
        var restarted = await StartAsync(process.Name, process.Settings.Kind, process.Port);
        process.App = restarted.App;
        process.IsRunning = true;
    }

    /// <summary>
    /// Adds a silo to the cluster. Placement is static (stream_writers), so it takes no room or user
    /// grains until the configuration names it; it does serve stateless and unplaced grains.
    /// </summary>
    public async Task<ProcessHandle> StartAdditionalSiloAsync()
    {
        var name = $"silo{_silos.Count + 1}";
        var port = FreePort();
        _instanceMap[name] = new Uri($"http://127.0.0.1:{port}");
        var silo = await StartAsync(name, ProcessKind.Silo, port);
        _silos.Add(silo);
        return silo;
    }

    private async Task<ProcessHandle> StartAsync(string name, ProcessKind kind, int port)
    {
        var metricsPort = _metricsPorts.GetValueOrDefault(name);
        if (metricsPort == 0) _metricsPorts[name] = metricsPort = FreePort();
        var settings = new ProcessSettings
        {
            ServerName = _options.ServerName,
            InstanceName = name,
            Kind = kind,
            DatabaseConnectionString = ConnectionString,
            RedisConfiguration = _options.RedisConfiguration,
            StreamChannelPrefix = DatabaseName,
            // A silo's replication port speaks only HTTP/2 (prior knowledge), so its metrics get a listener of their own.
            Listeners = kind == ProcessKind.Silo
                ?
                [
                    new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "replication" }),
                    new ListenerSettings([IPAddress.Loopback], metricsPort, new HashSet<string> { "metrics" }),
                ]
                : [new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "client", "federation", "metrics" })],
            InstanceMap = _instanceMap,
            StreamWriters = _writers,
            // The first silo sends to push gateways and runs the background tasks, as such roles usually sit on one process.
            PusherInstances = [_writers["events"][0]],
            RunBackgroundTasksOn = _writers["events"][0],
            ReplicationSecret = _options.ReplicationSecret,
            GrainResponseTimeout = _options.GrainResponseTimeout,
            EnableRegistration = _options.EnableRegistration,
            PublicBaseUrl = _options.PublicBaseUrl,
            RegistrationSharedSecret = _options.RegistrationSharedSecret,
            RateLimits = _options.RateLimits,
            // The lowest cost bcrypt allows keeps tests fast; production uses bcrypt_rounds (12).
            BcryptRounds = 4,
        };
        var app = HomeserverApplication.Build(settings, configure: builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            if (_options.RedisConfiguration is null) builder.Services.AddSingleton<IStreamTransport>(_sharedTransport);
        });
        await app.StartAsync();
        return new ProcessHandle(settings, app, port, kind == ProcessKind.Silo ? metricsPort : port);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _apiHosts.Concat(_silos).Where(h => h.IsRunning))
        {
            host.IsRunning = false;
            await host.App.StopAsync();
            await host.App.DisposeAsync();
        }
        if (_adminConnectionString is null) return;
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(_adminConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {DatabaseName} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
