using Homeserver.Configuration.Processes;
using Orleans.Configuration;

namespace Homeserver.Cluster.Hosting;

/// <summary>Which cluster a process joins and where its membership table lives (the homeserver's own PostgreSQL).</summary>
public static class ClusterIdentity
{
    /// <summary>The ADO.NET provider name Orleans' clustering and storage providers load Npgsql by.</summary>
    public const string NpgsqlInvariant = "Npgsql";

    public static void Apply(ClusterOptions options, ProcessSettings settings)
    {
        options.ClusterId = settings.Orleans.ClusterId;
        options.ServiceId = settings.Orleans.ServiceId ?? settings.ServerName;
    }
}
