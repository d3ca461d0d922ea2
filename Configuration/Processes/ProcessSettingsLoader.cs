using System.Net;

namespace Homeserver.Configuration.Processes;

/// <summary>
/// Turns Synapse-style command lines (<c>--config-path homeserver.yaml [--config-path worker.yaml]</c>)
/// into process settings. Configuration errors print one sentence and stop start-up.
/// </summary>
public static class ProcessSettingsLoader
{
    public static ProcessSettings? FromCommandLine(string[] args, ProcessKind defaultKind)
    {
        try
        {
            var paths = ConfigPaths(args);
            if (paths.Count == 0)
            {
                Console.Error.WriteLine("Give the configuration with --config-path homeserver.yaml (and --config-path worker.yaml for a worker).");
                return null;
            }
            WorkerOptions? worker = null;
            var shared = new List<string>();
            foreach (var path in paths)
            {
                if (HomeserverConfigLoader.IsWorkerFile(path)) worker = HomeserverConfigLoader.LoadWorker(path);
                else shared.Add(path);
            }
            var homeserver = shared.Count > 0 ? HomeserverConfigLoader.Load(shared) : null;
            if (homeserver is null)
            {
                Console.Error.WriteLine("None of the --config-path files is a homeserver.yaml (with server_name and database).");
                return null;
            }
            return FromOptions(homeserver, worker, defaultKind);
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return null;
        }
    }

    public static ProcessSettings FromOptions(HomeserverOptions homeserver, WorkerOptions? worker, ProcessKind defaultKind)
    {
        var kind = worker is null ? defaultKind : worker.Kind == WorkerKind.Silo ? ProcessKind.Silo : ProcessKind.ApiHost;
        var listeners = worker?.WorkerListeners ?? homeserver.Listeners;
        if (listeners.Count == 0)
        {
            throw new ConfigurationException(worker is null
                ? "homeserver.yaml: `listeners` is empty, so the server would not listen anywhere."
                : $"{worker.WorkerName}: `worker_listeners` is empty, so the worker would not listen anywhere.");
        }
        if (listeners.ToList().FindIndex(l => l.Tls) is var tlsIndex and >= 0 && homeserver.ListenerCertificate is null)
        {
            // A worker's listeners use the certificate of the shared homeserver.yaml, as in Synapse.
            throw new ConfigurationException(
                $"{worker?.WorkerName ?? "homeserver.yaml"}: `{(worker is null ? "listeners" : "worker_listeners")}[{tlsIndex}].tls` is set, so homeserver.yaml needs `{ListenerCertificateFiles.CertificateKey}` and `{ListenerCertificateFiles.PrivateKeyKey}`.");
        }
        if (kind == ProcessKind.Silo && !homeserver.InstanceMap.ContainsKey(worker!.WorkerName))
        {
            throw new ConfigurationException($"{worker.WorkerName}: a silo must have an `instance_map` entry (the address other silos reach it on).");
        }
        return new ProcessSettings
        {
            ServerName = homeserver.ServerName,
            InstanceName = worker?.WorkerName ?? HomeserverOptions.MainInstance,
            Kind = kind,
            DatabaseConnectionString = homeserver.Database.ToNpgsqlConnectionString(),
            Listeners = listeners.Select(l => new ListenerSettings(l.BindAddresses.Select(IPAddress.Parse).ToList(), l.Port, l.Resources)
            {
                Tls = l.Tls ? homeserver.ListenerCertificate : null,
            }).ToList(),
            InstanceMap = homeserver.InstanceMap,
            Orleans = homeserver.Orleans,
            GatewayPort = worker?.GatewayPort,
            StreamWriters = WithCachesWriters(homeserver),
            PusherInstances = homeserver.PusherInstances,
            FederationSenderInstances = homeserver.FederationSenderInstances,
            OutboundFederationRestrictedTo = homeserver.OutboundFederationRestrictedTo ?? [],
            FederationSender = homeserver.FederationSender,
            RunBackgroundTasksOn = homeserver.RunBackgroundTasksOn,
            RegistrationSharedSecret = homeserver.RegistrationSharedSecret,
            EnableRegistration = homeserver.EnableRegistration,
            AllowGuestAccess = homeserver.AllowGuestAccess,
            AllowPublicRoomsOverFederation = homeserver.AllowPublicRoomsOverFederation,
            UserDirectory = homeserver.UserDirectory,
            PublicBaseUrl = homeserver.PublicBaseUrl,
            ServeServerWellKnown = homeserver.ServeServerWellKnown,
            BcryptRounds = homeserver.BcryptRounds,
            RateLimits = homeserver.RateLimits,
            OutboundHttp = homeserver.OutboundHttp,
            Federation = homeserver.Federation,
            Email = homeserver.Email,
            ThreePids = homeserver.ThreePids,
            Warnings = homeserver.Warnings,
        };
    }

    /// <summary>
    /// The configured writers plus the <c>caches</c> stream's: every process that hosts grains (the
    /// instance_map's entries, or "main" alone), since any grain may have to invalidate API hosts' caches.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> WithCachesWriters(HomeserverOptions homeserver)
    {
        var writers = new Dictionary<string, IReadOnlyList<string>>(homeserver.StreamWriters, StringComparer.Ordinal)
        {
            ["caches"] = homeserver.InstanceMap.Count > 0 ? homeserver.InstanceMap.Keys.Order(StringComparer.Ordinal).ToList() : [HomeserverOptions.MainInstance],
        };
        return writers;
    }

    /// <summary>Every value given as <c>--config-path X</c>, <c>-c X</c> or <c>--config-path=X</c>.</summary>
    public static IReadOnlyList<string> ConfigPaths(string[] args) => OptionValues(args, "--config-path", "-c");

    public static IReadOnlyList<string> OptionValues(string[] args, string name, string? shortName = null)
    {
        var values = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if ((args[i] == name || args[i] == shortName) && i + 1 < args.Length) values.Add(args[++i]);
            else if (args[i].StartsWith(name + "=", StringComparison.Ordinal)) values.Add(args[i][(name.Length + 1)..]);
        }
        return values;
    }
}
