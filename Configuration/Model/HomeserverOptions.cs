namespace Homeserver.Configuration;

/// <summary>homeserver.yaml, with Synapse's key names, bound and validated.</summary>
public sealed class HomeserverOptions
{
    /// <summary>The instance name of Synapse's main process, also this project's monolith.</summary>
    public const string MainInstance = "main";

    public required string ServerName { get; init; }
    public string? PublicBaseUrl { get; init; }

    /// <summary>Synapse's <c>serve_server_wellknown</c>: answer /.well-known/matrix/server with the server name on port 443.</summary>
    public bool ServeServerWellKnown { get; init; }
    public IReadOnlyList<ListenerOptions> Listeners { get; init; } = [];

    /// <summary><c>tls_certificate_path</c> and <c>tls_private_key_path</c>, loaded: what listeners with <c>tls: true</c> present.</summary>
    public ListenerTlsCertificate? ListenerCertificate { get; init; }
    public required DatabaseOptions Database { get; init; }
    public IReadOnlyDictionary<string, InstanceLocation> InstanceMap { get; init; } = new Dictionary<string, InstanceLocation>();

    /// <summary>Writers per stream, with defaults filled in (the main process).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> StreamWriters { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    public string? WorkerReplicationSecret { get; init; }

    /// <summary>The <c>orleans</c> section: what Synapse has no key for (cluster identity, TLS, timeouts).</summary>
    public OrleansClusterOptions Orleans { get; init; } = new();
    public string? RegistrationSharedSecret { get; init; }
    public bool EnableRegistration { get; init; }

    /// <summary><c>allow_guest_access</c>: whether <c>POST /register?kind=guest</c> makes guest accounts (Synapse's default: no).</summary>
    public bool AllowGuestAccess { get; init; }

    /// <summary><c>allow_public_rooms_over_federation</c>: whether other servers may read this server's room directory (off, as in Synapse).</summary>
    public bool AllowPublicRoomsOverFederation { get; init; }
    public int BcryptRounds { get; init; } = 12;
    public string? MacaroonSecretKey { get; init; }
    public string? FormSecret { get; init; }
    public string? SigningKeyPath { get; init; }
    public string? MediaStorePath { get; init; }
    public bool ReportStats { get; init; }
    public long MaxUploadSize { get; init; } = 50 * 1024 * 1024;
    public string RunBackgroundTasksOn { get; init; } = MainInstance;
    public IReadOnlyList<string> FederationSenderInstances { get; init; } = [MainInstance];
    public IReadOnlyList<string> PusherInstances { get; init; } = [MainInstance];
    public string UpdateUserDirectoryFromWorker { get; init; } = MainInstance;

    /// <summary>The <c>user_directory</c> section.</summary>
    public UserDirectoryOptions UserDirectory { get; init; } = new();
    public string MediaInstanceRunningBackgroundJobs { get; init; } = MainInstance;
    public IReadOnlyList<string>? OutboundFederationRestrictedTo { get; init; }
    public required RateLimitOptions RateLimits { get; init; }

    /// <summary><c>federation_custom_ca_list</c>, loaded: the trust of every outbound HTTPS client.</summary>
    public OutboundHttpOptions OutboundHttp { get; init; } = new();

    /// <summary>The limits on requests to other homeservers (IP ranges, domain whitelist, certificate checks, timeout).</summary>
    public FederationClientOptions Federation { get; init; } = new();

    /// <summary>The backoff of outbound federation (<c>federation.destination_*_retry_*</c>).</summary>
    public FederationSenderOptions FederationSender { get; init; } = new();
    /// <summary>The <c>email</c> section; null when this server does not send mail (Synapse's <c>can_verify_email</c> false).</summary>
    public EmailOptions? Email { get; init; }
    public ThreePidOptions ThreePids { get; init; } = new();

    /// <summary>Things that are allowed but risky; the host logs each loudly at start.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public IReadOnlyList<string> WritersFor(string stream) =>
        StreamWriters.TryGetValue(stream, out var writers) ? writers : [MainInstance];

}

/// <summary>An <c>instance_map</c> entry: for a silo, the address and port other silos reach it on (its Orleans silo endpoint).</summary>
public sealed record InstanceLocation(string Host, int Port, bool Tls);

/// <summary>
/// homeserver.yaml's <c>orleans</c> section. Silos find each other through the membership table in
/// the homeserver's PostgreSQL; these keys say which cluster, how its connections are secured, and how
/// long a caller waits.
/// </summary>
public sealed record OrleansClusterOptions
{
    public string ClusterId { get; init; } = "homeserver";

    /// <summary>Defaults to the server name: grain state of one homeserver never mixes with another's.</summary>
    public string? ServiceId { get; init; }

    /// <summary>PKCS#12 file holding the cluster certificate every silo and API host presents (scripts/cluster-cert writes one).</summary>
    public string? TlsCertificatePath { get; init; }
    public string? TlsCertificatePassword { get; init; }

    /// <summary>Lets a split deployment run without TLS when every silo and API host is on loopback (tests, one machine).</summary>
    public bool AllowInsecureLoopback { get; init; }

    /// <summary>How long a grain call waits for its answer, so a frozen silo never holds a client request long.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The monolith's own silo port (loopback only): grain calls stay in-process, but Orleans still binds one.</summary>
    public int MonolithSiloPort { get; init; } = 11111;
}

public sealed record ListenerOptions(int Port, IReadOnlyList<string> BindAddresses, string Type, bool Tls, bool XForwarded,
    IReadOnlySet<string> Resources);

public sealed record DatabaseOptions(string Host, int Port, string User, string? Password, string DatabaseName, int MinPoolSize, int MaxPoolSize)
{
    /// <summary>A Host beginning with '/' is a Unix socket directory, as with libpq.</summary>
    public string ToNpgsqlConnectionString()
    {
        var builder = new System.Data.Common.DbConnectionStringBuilder
        {
            ["Host"] = Host,
            ["Port"] = Port,
            ["Username"] = User,
            ["Database"] = DatabaseName,
            ["Minimum Pool Size"] = MinPoolSize,
            ["Maximum Pool Size"] = MaxPoolSize,
            // Nothing here changes session state, so a pooled connection needs no DISCARD ALL round trip on return.
            ["No Reset On Close"] = true,
        };
        if (Password is not null) builder["Password"] = Password;
        return builder.ConnectionString;
    }
}
