namespace Orleans.Runtime.Hosting;

/// <summary>Where grains live and how calls to them behave. Built from homeserver.yaml by the hosts.</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>This process's instance name (Synapse's <c>worker_name</c>; "main" for a monolith).</summary>
    public string InstanceName { get; set; } = "main";

    /// <summary>Replication listener of every instance that hosts grains, by instance name (<c>instance_map</c>).</summary>
    public Dictionary<string, Uri> Instances { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Instances per placement role, in configured order (<c>stream_writers</c>).</summary>
    public Dictionary<string, IReadOnlyList<string>> Roles { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Shared secret for calls between processes (<c>worker_replication_secret</c>); null accepts any caller.</summary>
    public string? ReplicationSecret { get; set; }

    /// <summary>How long a grain call may take before the caller gets a <see cref="TimeoutException"/>.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for a TCP connection to another instance before reporting it unavailable.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Activations idle for this long are deactivated (Orleans' GrainCollectionOptions.CollectionAge).</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long shutdown waits for running calls before abandoning their activations.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often idle activations are looked for.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);
}
