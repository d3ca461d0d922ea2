using System.Net;

namespace Homeserver.Configuration.Processes;

/// <summary>What kind of process this is. A monolith runs every role; the others are Synapse-style workers.</summary>
public enum ProcessKind
{
    Monolith,
    Silo,
    ApiHost,
}

/// <summary>
/// A listener: where it binds and which resources (client, federation, keys, media, openid, health,
/// metrics, ...) it serves; none listed serves every endpoint.
/// </summary>
public sealed record ListenerSettings(IReadOnlyList<IPAddress> BindAddresses, int Port, IReadOnlySet<string> Resources)
{
    /// <summary>The certificate of a <c>tls: true</c> listener, which then speaks HTTPS; null for plain HTTP.</summary>
    public ListenerTlsCertificate? Tls { get; init; }
}

/// <summary>
/// Everything one process needs to start, resolved from homeserver.yaml and its worker file
/// (or built directly by the test cluster).
/// </summary>
public sealed record ProcessSettings
{
    public required string ServerName { get; init; }
    public required string InstanceName { get; init; }
    public required ProcessKind Kind { get; init; }
    public required string DatabaseConnectionString { get; init; }
    public required IReadOnlyList<ListenerSettings> Listeners { get; init; }

    /// <summary><c>instance_map</c>: every silo by name, with the endpoint other silos reach it on.</summary>
    public IReadOnlyDictionary<string, InstanceLocation> InstanceMap { get; init; } = new Dictionary<string, InstanceLocation>();
    public IReadOnlyDictionary<string, IReadOnlyList<string>> StreamWriters { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Cluster identity, TLS and timeouts (homeserver.yaml's <c>orleans</c> section).</summary>
    public OrleansClusterOptions Orleans { get; init; } = new();

    /// <summary>A silo's gateway port, where API hosts connect (its worker file's <c>orleans_gateway_port</c>).</summary>
    public int? GatewayPort { get; init; }

    /// <summary><c>pusher_instances</c>: the processes that send to push gateways, each for the users hashed to it.</summary>
    public IReadOnlyList<string> PusherInstances { get; init; } = ["main"];

    /// <summary><c>federation_sender_instances</c>: the processes that send to other homeservers, each for the destinations hashed to it.</summary>
    public IReadOnlyList<string> FederationSenderInstances { get; init; } = ["main"];

    /// <summary>
    /// <c>outbound_federation_restricted_to</c>: the only processes that may reach other servers; the others make their
    /// requests through them. Empty: every process reaches them itself.
    /// </summary>
    public IReadOnlyList<string> OutboundFederationRestrictedTo { get; init; } = [];

    /// <summary>Backoff and polling of the federation senders.</summary>
    public FederationSenderOptions FederationSender { get; init; } = new();

    /// <summary><c>run_background_tasks_on</c>: the one process that prunes old rows.</summary>
    public string RunBackgroundTasksOn { get; init; } = "main";
    public string? RegistrationSharedSecret { get; init; }
    public bool EnableRegistration { get; init; }

    /// <summary><c>allow_guest_access</c>: guest registration and the guest subset of the client API.</summary>
    public bool AllowGuestAccess { get; init; }

    /// <summary><c>allow_public_rooms_over_federation</c>: other servers may read /publicRooms (403 otherwise, as Synapse answers).</summary>
    public bool AllowPublicRoomsOverFederation { get; init; }

    /// <summary>The <c>user_directory</c> section: whom a search may find.</summary>
    public UserDirectoryOptions UserDirectory { get; init; } = new();
    public string? PublicBaseUrl { get; init; }
    public bool ServeServerWellKnown { get; init; }

    /// <summary>bcrypt cost for new password hashes (Synapse's <c>bcrypt_rounds</c>).</summary>
    public int BcryptRounds { get; init; } = 12;

    public RateLimitOptions RateLimits { get; init; } = RateLimitOptions.Defaults;

    /// <summary>The trust of outbound HTTPS (<c>federation_custom_ca_list</c>).</summary>
    public OutboundHttpOptions OutboundHttp { get; init; } = new();

    /// <summary>The limits on requests to other homeservers.</summary>
    public FederationClientOptions Federation { get; init; } = new();
    /// <summary>The <c>email</c> section; null when this server does not validate email addresses.</summary>
    public EmailOptions? Email { get; init; }
    public ThreePidOptions ThreePids { get; init; } = new();

    /// <summary>Allowed but risky settings, logged loudly at start.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public bool HostsGrains => Kind is ProcessKind.Monolith or ProcessKind.Silo;

    public bool ServesClients => Kind is ProcessKind.Monolith or ProcessKind.ApiHost;

    /// <summary>Streams this instance writes: those whose writer list names it.</summary>
    public IEnumerable<string> StreamsWrittenHere =>
        StreamWriters.Where(kv => kv.Value.Contains(InstanceName)).Select(kv => kv.Key);
}
