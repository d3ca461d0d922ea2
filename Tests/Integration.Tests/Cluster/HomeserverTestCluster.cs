using System.Net;
using Homeserver.ApiHost.Hosting;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Silo.Hosting;
using Homeserver.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.TestingHost;

namespace Homeserver.Tests.Integration.Cluster;

/// <summary>
/// A homeserver cluster in this test process: Orleans' <see cref="TestCluster"/> runs the silos (real
/// TCP between them, membership in a fresh PostgreSQL database through our migrations, each silo
/// composed exactly as <c>Silo.dll</c> composes it), and ASP.NET API hosts connect to them as Orleans
/// clients, as <c>ApiHost.dll</c> does. Silos are named silo1..N, as stream_writers names them.
/// </summary>
public sealed class HomeserverTestCluster : IAsyncDisposable
{
    private readonly HomeserverTestClusterOptions _options;
    private readonly List<SiloProcess> _silos = [];
    private readonly List<ApiHostProcess> _apiHosts = [];
    private readonly Dictionary<string, int> _metricsPorts = [];
    private Dictionary<string, IReadOnlyList<string>> _writers = [];
    private readonly Dictionary<string, Dictionary<string, IReadOnlyList<string>>> _writersOf = [];
    private TestCluster? _orleans;
    private TestDatabase? _database;
    private int _nextSiloNumber;

    public HomeserverTestCluster(HomeserverTestClusterOptions options) => _options = options;

    public TestCluster Orleans => _orleans ?? throw new InvalidOperationException("Deploy the cluster first.");
    public IReadOnlyList<SiloProcess> Silos => _silos;
    public IReadOnlyList<ApiHostProcess> ApiHosts => _apiHosts;
    public string DatabaseName => _database?.Name ?? throw new InvalidOperationException("Deploy the cluster first.");
    public string ConnectionString => _database?.ConnectionString ?? "";

    /// <summary>The grain factory of the first API host: calls go where placement says, like a client request's would.</summary>
    public IGrainFactory GrainFactory => _apiHosts[0].GrainFactory;

    public async Task DeployAsync()
    {
        _database = await TestDatabase.CreateAsync();
        await DatabaseMigrations.ApplyAsync(ConnectionString);

        var siloNames = Enumerable.Range(1, _options.InitialSilosCount).Select(i => $"silo{i}").ToList();
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

        var builder = new TestClusterBuilder(_options.InitialSilosCount);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Options.InitializeClientOnDeploy = false;
        builder.Options.ConfigureFileLogging = false;
        _orleans = builder.Build();
        _orleans.CreateSiloAsync = CreateSiloAsync;
        foreach (var name in siloNames) _silos.Add(new SiloProcess(name, MetricsPort(name)));
        _nextSiloNumber = siloNames.Count;
        await _orleans.DeployAsync();
        for (var i = 1; i <= _options.ApiHostCount; i++) _apiHosts.Add(await StartApiHostAsync(Settings($"api{i}", ProcessKind.ApiHost, LoopbackPorts.Free())));
    }

    /// <summary>Stops a silo abruptly, as a crash would: its connections drop, and the survivors declare it dead.</summary>
    public Task KillSiloAsync(SiloProcess silo) => Orleans.KillSiloAsync(silo.Handle);

    /// <summary>Starts a killed or stopped silo again under its name and ports, with the same roles.</summary>
    public async Task RestartSiloAsync(SiloProcess silo)
    {
        if (silo.IsRunning) throw new InvalidOperationException($"{silo.Name} is running.");
        await TestCluster.StartSiloAsync(Orleans, NumberOf(silo.Name), Orleans.Options);
    }

    /// <summary>
    /// Adds a silo. With <paramref name="writesMultiWriterStreams"/>, its own config lists it among the
    /// writers of every multi-writer stream (as scripts/cluster add-silo writes it), while the running
    /// silos keep the lists they started with; otherwise it takes no role.
    /// </summary>
    public async Task<SiloProcess> StartAdditionalSiloAsync(bool writesMultiWriterStreams = false)
    {
        var number = _nextSiloNumber++;
        var name = $"silo{number + 1}";
        if (writesMultiWriterStreams)
        {
            _writersOf[name] = _writers.ToDictionary(kv => kv.Key,
                kv => kv.Value.Count > 1 || kv.Key == "caches" ? (IReadOnlyList<string>)[.. kv.Value, name] : kv.Value);
        }
        _silos.Add(new SiloProcess(name, MetricsPort(name)));
        await TestCluster.StartSiloAsync(Orleans, number, Orleans.Options, startSiloOnNewPort: true);
        return _silos[^1];
    }

    /// <summary>Stops and starts an API host on the same port: clients keep their tokens and carry on.</summary>
    public async Task RestartApiHostAsync(ApiHostProcess apiHost)
    {
        await StopApiHostAsync(apiHost);
        await StartApiHostAgainAsync(apiHost);
    }

    /// <summary>Stops an API host abruptly, as a crash would; <see cref="StartApiHostAgainAsync"/> brings it back on its ports.</summary>
    public Task StopApiHostAsync(ApiHostProcess apiHost) => StopAsync(apiHost, abrupt: true);

    public async Task StartApiHostAgainAsync(ApiHostProcess apiHost)
    {
        if (apiHost.IsRunning) throw new InvalidOperationException("The API host is running.");
        var restarted = await StartApiHostAsync(apiHost.Settings);
        apiHost.App = restarted.App;
        apiHost.IsRunning = true;
    }

    private async Task<SiloHandle> CreateSiloAsync(string orleansName, IConfiguration configuration)
    {
        // TestCluster names silos Secondary_<n> (no primary: membership is in PostgreSQL); ours are silo<n+1>.
        var number = int.Parse(orleansName["Secondary_".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var silo = _silos[number];
        var siloPort = configuration.GetValue<int>("Orleans:Endpoints:SiloPort");
        var gatewayPort = configuration.GetValue<int>("Orleans:EndPoints:GatewayPort");
        var settings = Settings(silo.Name, ProcessKind.Silo, MetricsPort(silo.Name), siloPort, gatewayPort);
        var handle = await InProcessSiloHandle.CreateAsync(orleansName, configuration, host => ComposeSilo(host, settings, _options.SiloLogs));
        silo.Handle = handle;
        return handle;
    }

    /// <summary>The silo as Silo.dll composes it, on the generic host TestCluster builds, with its metrics listener.</summary>
    private static void ComposeSilo(IHostBuilder host, ProcessSettings settings, ILoggerProvider? logs)
    {
        host.ConfigureLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            if (logs is not null) logging.AddProvider(logs);
        });
        host.ConfigureServices(services =>
        {
            services.AddProcessServices(settings);
            services.AddSiloServices(settings);
            services.AddRouting();
        });
        host.UseOrleans((_, silo) => silo.ConfigureHomeserverSilo(settings));
        host.ConfigureServices(services => services.AddSiloRoleServices(settings));
        host.ConfigureWebHost(web => web
            .UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, settings.Listeners[0].Port))
            .Configure(app =>
            {
                app.UseRouting();
                app.UseEndpoints(endpoints => endpoints.MapProcessEndpoints());
            }));
    }

    private async Task<ApiHostProcess> StartApiHostAsync(ProcessSettings settings)
    {
        var app = ApiHostApplication.Build(settings, configure: builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        return new ApiHostProcess(settings, settings.Listeners[0].Port) { App = app, IsRunning = true };
    }

    private ProcessSettings Settings(string name, ProcessKind kind, int port, int? siloPort = null, int? gatewayPort = null) => new()
    {
        ServerName = _options.ServerName,
        InstanceName = name,
        Kind = kind,
        DatabaseConnectionString = ConnectionString,
        Listeners = kind == ProcessKind.Silo
            ? [new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "health", "metrics" })]
            : _options.ApiHostListeners?.Invoke(port)
                ?? [new ListenerSettings([IPAddress.Loopback], port, new HashSet<string> { "client", "federation", "metrics" })],
        InstanceMap = siloPort is { } p
            ? new Dictionary<string, InstanceLocation> { [name] = new("127.0.0.1", p, false) }
            : new Dictionary<string, InstanceLocation>(),
        GatewayPort = gatewayPort,
        StreamWriters = _writersOf.GetValueOrDefault(name) ?? _writers,
        Orleans = new OrleansClusterOptions
        {
            ClusterId = Orleans.Options.ClusterId,
            ServiceId = Orleans.Options.ServiceId,
            TlsCertificatePath = _options.TlsCertificatePath,
            AllowInsecureLoopback = _options.TlsCertificatePath is null,
            ResponseTimeout = _options.ResponseTimeout,
        },
        // The first silo sends to push gateways and runs the background tasks, as such roles usually sit on one process.
        PusherInstances = [_writers["events"][0]],
        FederationSenderInstances = [_writers["events"][0]],
        FederationSender = _options.FederationSender,
        OutboundFederationRestrictedTo = _options.OutboundFederationRestrictedTo,
        RunBackgroundTasksOn = _writers["events"][0],
        EnableRegistration = _options.EnableRegistration,
        AllowGuestAccess = _options.AllowGuestAccess,
        AllowPublicRoomsOverFederation = _options.AllowPublicRoomsOverFederation,
        UserDirectory = _options.UserDirectory,
        PublicBaseUrl = _options.PublicBaseUrl,
        RegistrationSharedSecret = _options.RegistrationSharedSecret,
        RateLimits = _options.RateLimits,
        OutboundHttp = new OutboundHttpOptions
        {
            CustomCertificateAuthorities = _options.FederationCustomCaList is { } caFiles
                ? CertificateAuthorityFiles.Load(caFiles, "test cluster", "federation_custom_ca_list")
                : null,
            IpRangeWhitelist = FederationConfigReader.Ranges(_options.OutboundIpRangeWhitelist, "test cluster", "ip_range_whitelist"),
        },
        Federation = _options.Federation,
        Email = _options.Email,
        ThreePids = _options.ThreePids,
        // The lowest cost bcrypt allows keeps tests fast; production uses bcrypt_rounds (12).
        BcryptRounds = 4,
    };

    private int MetricsPort(string name)
    {
        if (!_metricsPorts.TryGetValue(name, out var port)) _metricsPorts[name] = port = LoopbackPorts.Free();
        return port;
    }

    private static int NumberOf(string siloName) => int.Parse(siloName["silo".Length..], System.Globalization.CultureInfo.InvariantCulture) - 1;

    private static async Task StopAsync(ApiHostProcess host, bool abrupt)
    {
        if (!host.IsRunning) return;
        host.IsRunning = false;
        using var stop = new CancellationTokenSource(abrupt ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(10));
        try
        {
            await host.App.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await host.App.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _apiHosts) await StopAsync(host, abrupt: false);
        if (_orleans is not null) await _orleans.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
    }
}
