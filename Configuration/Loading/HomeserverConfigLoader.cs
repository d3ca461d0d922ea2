using System.Net;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Homeserver.Configuration;

/// <summary>Reads homeserver.yaml and worker files into validated options; every failure is one sentence.</summary>
public static class HomeserverConfigLoader
{
    /// <summary>Streams whose rows are sharded by key over several writers. The others take exactly one.</summary>
    public static readonly IReadOnlySet<string> MultiWriterStreams =
        new HashSet<string> { "events", "to_device", "account_data", "receipts", "push_rules", "device_lists" };

    public static readonly IReadOnlyList<string> KnownStreams =
        ["events", "typing", "to_device", "account_data", "receipts", "presence", "push_rules", "device_lists"];

    public static HomeserverOptions Load(string path) => LoadFromYaml(ReadFile(path), Path.GetFileName(path));

    public static WorkerOptions LoadWorker(string path) => LoadWorkerFromYaml(ReadFile(path), Path.GetFileName(path));

    /// <summary>
    /// Several shared files read as one, as Synapse reads several <c>--config-path</c>s: a top-level key
    /// in a later file replaces the same key of an earlier one (a cluster overlay on homeserver.yaml, say).
    /// </summary>
    public static HomeserverOptions Load(IReadOnlyList<string> paths)
    {
        if (paths.Count == 1) return Load(paths[0]);
        var merged = new YamlMappingNode();
        foreach (var path in paths)
        {
            foreach (var (key, value) in Parse(ReadFile(path), Path.GetFileName(path)).Node.Children) merged.Children[key] = value;
        }
        return FromRoot(new YamlSection(string.Join(" + ", paths.Select(Path.GetFileName)), "", merged));
    }

    public static HomeserverOptions LoadFromYaml(string yaml, string sourceName) => FromRoot(Parse(yaml, sourceName));

    private static HomeserverOptions FromRoot(YamlSection root)
    {
        var sourceName = root.File;
        var serverName = root.RequiredString("server_name");
        if (!IsValidServerName(serverName))
        {
            throw new ConfigurationException($"{sourceName}: `server_name` must be a host name or IP address with an optional port, not `{serverName}`.");
        }

        var instanceMap = new Dictionary<string, InstanceLocation>(StringComparer.Ordinal);
        if (root.Section("instance_map") is { } map)
        {
            foreach (var name in map.Keys)
            {
                var entry = map.Section(name) ?? throw new ConfigurationException($"{sourceName}: `instance_map.{name}` needs a host and port.");
                instanceMap[name] = new InstanceLocation(entry.RequiredString("host"), entry.Int("port", 0, 1, 65535) is var p and > 0
                    ? p : throw new ConfigurationException($"{sourceName}: `instance_map.{name}.port` is missing."), entry.Bool("tls", false));
            }
        }

        var writers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var configuredWriters = root.Section("stream_writers");
        foreach (var stream in KnownStreams)
        {
            var listed = configuredWriters?.StringOrList(stream);
            if (listed is { Count: 0 }) throw new ConfigurationException($"{sourceName}: `stream_writers.{stream}` is an empty list.");
            writers[stream] = listed ?? [HomeserverOptions.MainInstance];
            if (writers[stream].Count > 1 && !MultiWriterStreams.Contains(stream))
            {
                throw new ConfigurationException(
                    $"{sourceName}: `stream_writers.{stream}` lists {writers[stream].Count} writers, but the {stream} stream allows only one.");
            }
        }
        if (configuredWriters is not null)
        {
            foreach (var key in configuredWriters.Keys.Where(k => !KnownStreams.Contains(k)))
            {
                throw new ConfigurationException($"{sourceName}: `stream_writers.{key}` is not a stream; known streams are {string.Join(", ", KnownStreams)}.");
            }
        }

        var runBackgroundTasksOn = root.String("run_background_tasks_on") ?? HomeserverOptions.MainInstance;
        var federationSenders = root.StringOrList("federation_sender_instances") ?? [HomeserverOptions.MainInstance];
        var pushers = root.StringOrList("pusher_instances") ?? [HomeserverOptions.MainInstance];
        var userDirectory = root.String("update_user_directory_from_worker") ?? HomeserverOptions.MainInstance;
        var media = root.String("media_instance_running_background_jobs") ?? HomeserverOptions.MainInstance;
        var outbound = root.StringOrList("outbound_federation_restricted_to");

        // Any instance that writes a stream or takes a role must be reachable, except the main
        // process of a single-process setup, which needs no instance_map at all.
        var named = writers.SelectMany(kv => kv.Value.Select(w => ($"stream_writers.{kv.Key}", w)))
            .Append(("run_background_tasks_on", runBackgroundTasksOn))
            .Concat(federationSenders.Select(f => ("federation_sender_instances", f)))
            .Concat(pushers.Select(f => ("pusher_instances", f)))
            .Append(("update_user_directory_from_worker", userDirectory))
            .Append(("media_instance_running_background_jobs", media))
            .Concat((outbound ?? []).Select(f => ("outbound_federation_restricted_to", f)));
        foreach (var (key, instance) in named)
        {
            if (instance != HomeserverOptions.MainInstance && !instanceMap.ContainsKey(instance))
            {
                throw new ConfigurationException($"{sourceName}: `{key}` names `{instance}`, which is not in `instance_map`.");
            }
        }
        var streamWritersOnWorkers = writers.Values.SelectMany(w => w).Any(w => w != HomeserverOptions.MainInstance);
        if (streamWritersOnWorkers && writers.Values.SelectMany(w => w).Contains(HomeserverOptions.MainInstance) &&
            !instanceMap.ContainsKey(HomeserverOptions.MainInstance))
        {
            throw new ConfigurationException(
                $"{sourceName}: some streams are written by `{HomeserverOptions.MainInstance}`, so `instance_map` must include `{HomeserverOptions.MainInstance}` once other writers are configured.");
        }

        var listeners = root.Sections("listeners").Select(ReadListener).ToList();
        var listenerCertificate = ListenerCertificateFiles.Load(root);
        if (listeners.FindIndex(l => l.Tls) is var tlsIndex and >= 0 && listenerCertificate is null)
        {
            throw new ConfigurationException(
                $"{sourceName}: `listeners[{tlsIndex}].tls` is set, so `{ListenerCertificateFiles.CertificateKey}` and `{ListenerCertificateFiles.PrivateKeyKey}` must name the PEM certificate chain and its key.");
        }
        var secret = root.String("worker_replication_secret");
        var warnings = new List<string>();
        if (secret is not null)
        {
            warnings.Add("`worker_replication_secret` is not used: silos and API hosts authenticate each other with the cluster certificate (`orleans.tls_certificate_path`).");
        }
        if (listenerCertificate?.Certificate is { } served && (served.NotAfter < DateTime.Now || served.NotBefore > DateTime.Now))
        {
            // Loaded all the same, as Synapse does: a renewal may be on its way, and the listeners still start.
            warnings.Add($"`{ListenerCertificateFiles.CertificateKey}`: the certificate is valid only from {served.NotBefore:u} to {served.NotAfter:u}; other servers will refuse it.");
        }
        if (root.Section("redis") is { } redisSection && redisSection.Bool("enabled", false))
        {
            warnings.Add("`redis` is not used: replication between processes runs on Orleans streams, with PostgreSQL as the record.");
        }
        var federation = FederationConfigReader.Read(root, warnings);
        var orleans = ReadOrleans(root, serverName);
        var email = EmailConfigReader.ReadEmail(root);
        var threePids = EmailConfigReader.ReadThreePids(root, email);
        if (threePids.IdentityServerPlainHttp)
        {
            warnings.Add("`identity_server_plain_http_just_for_testing_do_not_use` is set: identity servers are reached over plain HTTP, which only tests should do.");
        }
        if (instanceMap.Count > 0 && orleans.TlsCertificatePath is null && !orleans.AllowInsecureLoopback)
        {
            throw new ConfigurationException(
                $"{sourceName}: a split deployment (`instance_map`) needs `orleans.tls_certificate_path` (scripts/cluster-cert makes one), or `orleans.allow_insecure_loopback: true` when every process is on loopback.");
        }
        if (orleans.AllowInsecureLoopback && orleans.TlsCertificatePath is null)
        {
            foreach (var (name, location) in instanceMap.Where(kv => !IsLoopback(kv.Value.Host) && kv.Value.Host != "localhost"))
            {
                throw new ConfigurationException(
                    $"{sourceName}: `orleans.allow_insecure_loopback` is set without TLS, but `instance_map.{name}` is on {location.Host}, not loopback.");
            }
        }

        return new HomeserverOptions
        {
            ServerName = serverName,
            PublicBaseUrl = root.String("public_baseurl"),
            ServeServerWellKnown = root.Bool("serve_server_wellknown", false),
            Listeners = listeners,
            ListenerCertificate = listenerCertificate,
            Database = ReadDatabase(root),
            InstanceMap = instanceMap,
            StreamWriters = writers,
            WorkerReplicationSecret = secret,
            Orleans = orleans,
            RegistrationSharedSecret = root.String("registration_shared_secret"),
            EnableRegistration = root.Bool("enable_registration", false),
            AllowGuestAccess = root.Bool("allow_guest_access", false),
            AllowPublicRoomsOverFederation = root.Bool("allow_public_rooms_over_federation", false),
            BcryptRounds = root.Int("bcrypt_rounds", 12, 4, 31),
            MacaroonSecretKey = root.String("macaroon_secret_key"),
            FormSecret = root.String("form_secret"),
            SigningKeyPath = root.String("signing_key_path"),
            MediaStorePath = root.String("media_store_path"),
            ReportStats = root.Bool("report_stats", false),
            MaxUploadSize = ParseSize(root, "max_upload_size", 50L * 1024 * 1024),
            RunBackgroundTasksOn = runBackgroundTasksOn,
            FederationSenderInstances = federationSenders,
            PusherInstances = pushers,
            UpdateUserDirectoryFromWorker = userDirectory,
            UserDirectory = ReadUserDirectory(root),
            MediaInstanceRunningBackgroundJobs = media,
            OutboundFederationRestrictedTo = outbound,
            RateLimits = ReadRateLimits(root),
            OutboundHttp = ReadOutboundHttp(root),
            Federation = federation,
            FederationSender = FederationConfigReader.ReadSender(root),
            Email = email,
            ThreePids = threePids,
            Warnings = warnings,
        };
    }

    public static WorkerOptions LoadWorkerFromYaml(string yaml, string sourceName)
    {
        var root = Parse(yaml, sourceName);
        var name = root.RequiredString("worker_name");
        var app = root.String("worker_app") ?? "synapse.app.generic_worker";
        var kind = app switch
        {
            "synapse.app.generic_worker" or "api_host" => WorkerKind.ApiHost,
            "silo" => WorkerKind.Silo,
            _ => throw new ConfigurationException($"{sourceName}: `worker_app` must be `synapse.app.generic_worker`, `api_host` or `silo`, not `{app}`."),
        };
        int? gatewayPort = root.Has("orleans_gateway_port") ? root.Int("orleans_gateway_port", 0, 1, 65535) : null;
        if (kind == WorkerKind.Silo && gatewayPort is null)
        {
            throw new ConfigurationException($"{sourceName}: a silo needs `orleans_gateway_port`, where API hosts connect to it.");
        }
        return new WorkerOptions(name, app, kind, root.Sections("worker_listeners").Select(ReadListener).ToList(), gatewayPort);
    }

    /// <summary>True when a YAML file is a worker file rather than homeserver.yaml.</summary>
    public static bool IsWorkerFile(string path)
    {
        var root = Parse(ReadFile(path), Path.GetFileName(path));
        return root.Has("worker_name") || root.Has("worker_app");
    }

    private static ListenerOptions ReadListener(YamlSection l)
    {
        var port = l.Int("port", 0, 1, 65535);
        if (port == 0) throw new ConfigurationException($"{l.File}: `{l.PathOf("port")}` is missing.");
        var type = l.String("type") ?? "http";
        if (type != "http") throw new ConfigurationException($"{l.File}: `{l.PathOf("type")}` must be `http`, not `{type}`.");
        var binds = l.StringOrList("bind_addresses") ?? ["::1", "127.0.0.1"];
        foreach (var bind in binds)
        {
            if (!IPAddress.TryParse(bind, out _))
            {
                throw new ConfigurationException($"{l.File}: `{l.PathOf("bind_addresses")}` must list IP addresses, not `{bind}`.");
            }
        }
        var resources = new HashSet<string>(StringComparer.Ordinal);
        foreach (var resource in l.Sections("resources"))
        {
            foreach (var name in resource.StringOrList("names") ?? [])
            {
                if (name is not ("client" or "federation" or "media" or "replication" or "health" or "metrics" or "keys" or "static" or "openid" or "consent"))
                {
                    throw new ConfigurationException($"{l.File}: `{resource.PathOf("names")}` has unknown resource `{name}`.");
                }
                resources.Add(name);
            }
        }
        return new ListenerOptions(port, binds, type, l.Bool("tls", false), l.Bool("x_forwarded", false), resources);
    }

    private static DatabaseOptions ReadDatabase(YamlSection root)
    {
        var db = root.Section("database") ?? throw new ConfigurationException($"{root.File}: `database` is missing.");
        var name = db.String("name") ?? "psycopg2";
        if (name != "psycopg2")
        {
            throw new ConfigurationException($"{root.File}: `database.name` must be `psycopg2` (PostgreSQL); `{name}` is not supported.");
        }
        var args = db.Section("args") ?? throw new ConfigurationException($"{root.File}: `database.args` is missing.");
        var dbName = args.String("dbname") ?? args.String("database")
            ?? throw new ConfigurationException($"{root.File}: `database.args.dbname` is missing.");
        var min = args.Int("cp_min", 5, 0, 1000);
        var max = args.Int("cp_max", 10, 1, 1000);
        if (min > max) throw new ConfigurationException($"{root.File}: `database.args.cp_min` ({min}) is larger than `database.args.cp_max` ({max}).");
        return new DatabaseOptions(args.String("host") ?? "localhost", args.Int("port", 5432, 1, 65535),
            args.RequiredString("user"), args.String("password"), dbName, min, max);
    }

    private static OrleansClusterOptions ReadOrleans(YamlSection root, string serverName)
    {
        var section = root.Section("orleans");
        if (section is null) return new OrleansClusterOptions { ServiceId = serverName };
        var timeout = section.Double("response_timeout_seconds", 10);
        if (timeout is < 1 or > 300)
        {
            throw new ConfigurationException($"{section.File}: `{section.PathOf("response_timeout_seconds")}` must be from 1 to 300 seconds.");
        }
        return new OrleansClusterOptions
        {
            ClusterId = section.String("cluster_id") ?? "homeserver",
            ServiceId = section.String("service_id") ?? serverName,
            TlsCertificatePath = section.String("tls_certificate_path"),
            TlsCertificatePassword = section.String("tls_certificate_password"),
            AllowInsecureLoopback = section.Bool("allow_insecure_loopback", false),
            ResponseTimeout = TimeSpan.FromSeconds(timeout),
            MonolithSiloPort = section.Int("monolith_silo_port", 11111, 1, 65535),
        };
    }

    private static UserDirectoryOptions ReadUserDirectory(YamlSection root) => root.Section("user_directory") is { } section
        ? new UserDirectoryOptions
        {
            Enabled = section.Bool("enabled", true),
            SearchAllUsers = section.Bool("search_all_users", false),
            PreferLocalUsers = section.Bool("prefer_local_users", false),
        }
        : new UserDirectoryOptions();

    private static OutboundHttpOptions ReadOutboundHttp(YamlSection root)
    {
        // Not federation_ip_range_blacklist: in Synapse that old key replaces the list for federation only.
        var (blacklist, whitelist) = FederationConfigReader.ReadIpRanges(root);
        return new OutboundHttpOptions
        {
            CustomCertificateAuthorities = root.StringOrList("federation_custom_ca_list") is { } paths
                ? CertificateAuthorityFiles.Load(paths, root.File, "federation_custom_ca_list")
                : null,
            IpRangeBlacklist = blacklist,
            IpRangeWhitelist = whitelist,
        };
    }

    private static RateLimitOptions ReadRateLimits(YamlSection root)
    {
        var d = RateLimitOptions.Defaults;
        RateLimit Read(YamlSection? section, RateLimit fallback) => section is null
            ? fallback
            : new RateLimit(section.Double("per_second", fallback.PerSecond), section.Double("burst_count", fallback.BurstCount));
        var login = root.Section("rc_login");
        var joins = root.Section("rc_joins");
        var invites = root.Section("rc_invites");
        return new RateLimitOptions(
            Read(root.Section("rc_message"), d.Message),
            Read(root.Section("rc_registration"), d.Registration),
            Read(login?.Section("address"), d.LoginAddress),
            Read(login?.Section("account"), d.LoginAccount),
            Read(login?.Section("failed_attempts"), d.LoginFailedAttempts),
            Read(joins?.Section("local"), d.JoinsLocal),
            Read(joins?.Section("remote"), d.JoinsRemote),
            Read(invites?.Section("per_room"), d.InvitesPerRoom),
            Read(invites?.Section("per_user"), d.InvitesPerUser));
    }

    private static long ParseSize(YamlSection root, string key, long fallback)
    {
        var text = root.String(key);
        if (text is null) return fallback;
        var multiplier = text[^1] switch { 'K' or 'k' => 1024L, 'M' or 'm' => 1024L * 1024, 'G' or 'g' => 1024L * 1024 * 1024, _ => 1L };
        var digits = multiplier == 1 ? text : text[..^1];
        return long.TryParse(digits, out var n) && n > 0
            ? n * multiplier
            : throw new ConfigurationException($"{root.File}: `{key}` must be a size such as 50M, not `{text}`.");
    }

    private static bool IsLoopback(string address) => IPAddress.TryParse(address, out var ip) && IPAddress.IsLoopback(ip);

    private static bool IsValidServerName(string value)
    {
        string host = value;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']');
            if (close < 0 || !IPAddress.TryParse(value[1..close], out _)) return false;
            var rest = value[(close + 1)..];
            return rest.Length == 0 || (rest[0] == ':' && int.TryParse(rest[1..], out var p6) && p6 is > 0 and < 65536);
        }
        var colon = value.LastIndexOf(':');
        if (colon >= 0)
        {
            host = value[..colon];
            if (!int.TryParse(value[(colon + 1)..], out var port) || port is < 1 or > 65535) return false;
        }
        return host.Length is > 0 and <= 255 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.');
    }

    private static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"Cannot read the configuration file {path}: {e.Message}");
        }
    }

    private static YamlSection Parse(string yaml, string sourceName)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigurationException($"{sourceName}: line {e.Start.Line}, column {e.Start.Column} is not valid YAML ({e.InnerException?.Message ?? e.Message}).");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ConfigurationException($"{sourceName}: the file must be a YAML mapping of keys to values.");
        }
        return new YamlSection(sourceName, "", root);
    }
}
