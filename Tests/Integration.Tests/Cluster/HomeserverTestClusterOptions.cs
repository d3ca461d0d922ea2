using Homeserver.Configuration;

namespace Homeserver.Tests.Integration.Cluster;

public sealed class HomeserverTestClusterOptions
{
    public short InitialSilosCount { get; set; } = 2;
    public int ApiHostCount { get; set; } = 1;
    public string ServerName { get; set; } = "test.local";

    /// <summary>The cluster certificate (PKCS#12) every silo and API host presents; null runs without TLS, on loopback.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>
    /// The listeners of each API host, given its first free port; null gives one plain listener with client,
    /// federation and metrics. The first listener's port is the host's <c>BaseAddress</c>.
    /// </summary>
    public Func<int, IReadOnlyList<Homeserver.Configuration.Processes.ListenerSettings>>? ApiHostListeners { get; set; }

    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(20);
    public bool EnableRegistration { get; set; } = true;

    /// <summary>homeserver.yaml's <c>allow_guest_access</c>: off, as in Synapse, unless a fixture for guests turns it on.</summary>
    public bool AllowGuestAccess { get; set; }

    /// <summary>homeserver.yaml's <c>allow_public_rooms_over_federation</c>: off, as in Synapse.</summary>
    public bool AllowPublicRoomsOverFederation { get; set; }

    /// <summary>homeserver.yaml's <c>user_directory</c> section.</summary>
    public UserDirectoryOptions UserDirectory { get; set; } = new();
    public string? PublicBaseUrl { get; set; } = "https://matrix.test.local";
    public string? RegistrationSharedSecret { get; set; } = "test-shared-secret";

    /// <summary>homeserver.yaml's <c>federation_custom_ca_list</c>: PEM files, loaded as the config loader loads them.</summary>
    public IReadOnlyList<string>? FederationCustomCaList { get; set; }

    /// <summary>
    /// homeserver.yaml's <c>ip_range_whitelist</c> for push gateways and identity servers: loopback, where
    /// the tests run theirs. Empty keeps Synapse's default blacklist whole, for the tests of that blacklist.
    /// </summary>
    public IReadOnlyList<string> OutboundIpRangeWhitelist { get; set; } = ["127.0.0.0/8", "::1"];

    /// <summary>The outbound federation limits (<c>ip_range_whitelist</c>, <c>trusted_key_servers</c>...); Synapse's defaults unless a fixture changes them.</summary>
    public FederationClientOptions Federation { get; set; } = new();

    /// <summary>Backoff and polling of the federation senders (the first silo is the one <c>federation_sender_instances</c> names).</summary>
    public FederationSenderOptions FederationSender { get; set; } = new();

    /// <summary><c>outbound_federation_restricted_to</c>: silo names (silo1..N), or names of none, so nothing may go out.</summary>
    public IReadOnlyList<string> OutboundFederationRestrictedTo { get; set; } = [];

    /// <summary>Receives the silos' log (at Warning and above), for tests that look for a logged cause.</summary>
    public Microsoft.Extensions.Logging.ILoggerProvider? SiloLogs { get; set; }
    /// <summary>The <c>email</c> section; null (the default) when the server validates no email.</summary>
    public EmailOptions? Email { get; set; }
    public ThreePidOptions ThreePids { get; set; } = new();

    /// <summary>Tests register many users from one address; the defaults would throttle them.</summary>
    public RateLimitOptions RateLimits { get; set; } = Unlimited;

    public static readonly RateLimitOptions Unlimited = new(
        new(1000, 10000), new(1000, 10000), new(1000, 10000), new(1000, 10000), new(1000, 10000),
        new(1000, 10000), new(1000, 10000), new(1000, 10000), new(1000, 10000));
}
