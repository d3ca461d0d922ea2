namespace Homeserver.Cluster.Hosting;

/// <summary>
/// What <c>/ready</c> reports: a silo is ready once it is Active in the cluster's membership and its
/// start-up work is done; an API host once it is connected to the cluster.
/// </summary>
public interface IProcessReadiness
{
    bool IsReady { get; }
}
