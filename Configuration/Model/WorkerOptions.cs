namespace Homeserver.Configuration;

public enum WorkerKind
{
    /// <summary>Synapse's generic worker: client and federation listeners, no grains.</summary>
    ApiHost,

    /// <summary>Hosts the grains its instance name is given in stream_writers and the other role keys.</summary>
    Silo,
}

/// <summary>
/// A per-worker file: <c>worker_name</c>, <c>worker_app</c>, <c>worker_listeners</c>, and for a silo
/// <c>orleans_gateway_port</c>, where API hosts connect to it (its silo port is its <c>instance_map</c> entry).
/// </summary>
public sealed record WorkerOptions(string WorkerName, string WorkerApp, WorkerKind Kind, IReadOnlyList<ListenerOptions> WorkerListeners,
    int? GatewayPort = null);
