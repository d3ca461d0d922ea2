using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Http;

/// <summary>
/// Which paths each listener serves, from its <c>resources</c>, as Synapse mounts them
/// (<c>_configure_named_resource</c>): a listener answers only the prefixes of its resources, so a
/// federation port (8448) never exposes the client API and a client port never speaks federation.
/// </summary>
public sealed class ListenerResources
{
    /// <summary>Served on every listener: Synapse always mounts /health; /ready is this project's readiness probe.</summary>
    private static readonly PathString[] Always = ["/health", "/ready"];

    private static readonly Dictionary<string, PathString[]> PrefixesOf = new(StringComparer.Ordinal)
    {
        // Synapse's client resource also mounts admin, /_synapse/client, /.well-known, static files and the media repository.
        ["client"] = ["/_matrix/client", "/_synapse/client", "/_synapse/admin", "/.well-known", "/_matrix/media", "/_matrix/static"],
        ["federation"] = ["/_matrix/federation", "/_matrix/key", "/_matrix/media"],
        ["openid"] = ["/_matrix/federation/v1/openid/userinfo"],
        ["media"] = ["/_matrix/media", "/_matrix/client/v1/media", "/_matrix/federation/v1/media"],
        ["keys"] = ["/_matrix/key"],
        ["metrics"] = ["/metrics"],
        ["static"] = ["/_matrix/static"],
        ["consent"] = ["/_matrix/consent"],
        ["replication"] = ["/_synapse/replication"],
        ["health"] = [],
    };

    private readonly Dictionary<int, PathString[]?> _byPort = [];

    public ListenerResources(ProcessSettings settings)
    {
        foreach (var port in settings.Listeners.GroupBy(l => l.Port))
        {
            // A listener that lists no resources serves everything, as every listener did before resources were
            // enforced: configs (and test clusters) written then keep working.
            _byPort[port.Key] = port.Any(l => l.Resources.Count == 0)
                ? null
                : [.. Always, .. port.SelectMany(l => l.Resources).SelectMany(r => PrefixesOf.GetValueOrDefault(r, [])).Distinct()];
        }
    }

    /// <summary>
    /// Whether the listener on <paramref name="localPort"/> serves <paramref name="path"/>. Segment-wise and
    /// ignoring case, as routing matches, so <c>/_MATRIX/client</c> cannot slip past a federation listener.
    /// A port that is no configured listener's (a host composed by hand) serves everything.
    /// </summary>
    public bool Serves(int localPort, PathString path) =>
        !_byPort.TryGetValue(localPort, out var prefixes) || prefixes is null
        || prefixes.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase));
}
