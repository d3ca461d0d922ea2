namespace Homeserver.Configuration;

/// <summary>homeserver.yaml, with Synapse's key names, bound and validated.</summary>
public sealed class HomeserverOptions
{
    /// <summary>The instance name of Synapse's main process, also this project's monolith.</summary>
    public const string MainInstance = "main";

    public required string ServerName { get; init; }
    public string? PublicBaseUrl { get; init; }
    public IReadOnlyList<ListenerOptions> Listeners { get; init; } = [];
    public required DatabaseOptions Database { get; init; }
    public RedisOptions Redis { get; init; } = new();
    public IReadOnlyDictionary<string, InstanceLocation> InstanceMap { get; init; } = new Dictionary<string, InstanceLocation>();

    /// <summary>Writers per stream, with defaults filled in (the main process).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> StreamWriters { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    public string? WorkerReplicationSecret { get; init; }
    public string? RegistrationSharedSecret { get; init; }
    public bool EnableRegistration { get; init; }
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
    public string MediaInstanceRunningBackgroundJobs { get; init; } = MainInstance;
    public IReadOnlyList<string>? OutboundFederationRestrictedTo { get; init; }
    public required RateLimitOptions RateLimits { get; init; }

    /// <summary>Things that are allowed but risky; the host logs each loudly at start.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public IReadOnlyList<string> WritersFor(string stream) =>
        StreamWriters.TryGetValue(stream, out var writers) ? writers : [MainInstance];

    public Uri? ReplicationEndpoint(string instanceName) =>
        InstanceMap.TryGetValue(instanceName, out var location) ? location.ToUri() : null;
}

public sealed record InstanceLocation(string Host, int Port, bool Tls)
{
    public Uri ToUri() => new($"{(Tls ? "https" : "http")}://{(Host.Contains(':') && !Host.StartsWith('[') ? $"[{Host}]" : Host)}:{Port}");
}

public sealed record ListenerOptions(int Port, IReadOnlyList<string> BindAddresses, string Type, bool Tls, bool XForwarded,
    IReadOnlySet<string> Resources);

public sealed record RedisOptions(bool Enabled = false, string Host = "localhost", int Port = 6379, string? Password = null, int DbId = 0)
{
    /// <summary>The StackExchange.Redis configuration string.</summary>
    public string ToConfigurationString() =>
        $"{Host}:{Port},defaultDatabase={DbId}" + (Password is null ? "" : $",password={Password}");
}

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
