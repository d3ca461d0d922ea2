using System.Text.RegularExpressions;

namespace Homeserver.ApiHost.Routing;

/// <summary>How a reverse proxy spreads one class of requests over the API hosts.</summary>
public enum RouteBalance
{
    /// <summary>Any host: the fewest open connections.</summary>
    LeastConnections,

    /// <summary>By the access token, so one user's long-polls and per-user writes keep to one host.</summary>
    ByUser,

    /// <summary>By the room ID in the path, so one room's traffic keeps to one host's caches.</summary>
    ByRoom,

    /// <summary>By the origin server of a signed federation request (X-Matrix origin).</summary>
    ByOrigin,
}

/// <summary>A class of requests (a path pattern) and how to balance it; the first route that matches wins.</summary>
public sealed record ProxyRoute(string Name, string PathPattern, RouteBalance Balance, string Why)
{
    public Regex Regex { get; } = new(PathPattern, RegexOptions.CultureInvariant);
}

/// <summary>
/// The one source of the reverse proxy's routing (nginx and haproxy configs are generated from it),
/// following Synapse's workers documentation. Every API host serves every endpoint; what routing adds
/// is stickiness. Writes of per-user streams (typing, to-device, account data, receipts, presence)
/// reach their writer as grain calls from whichever host took them, so routing them to "their
/// writer" means keeping a user's requests on one host, not finding a particular process.
/// A test checks that every endpoint the API host maps falls into a route, and that every route
/// matches something served.
/// </summary>
public static class ProxyRoutes
{
    private const string Client = "^/_matrix/client/(?:r0|v3|unstable|v1)";

    public static readonly IReadOnlyList<ProxyRoute> All =
    [
        new("sync", Client + "/sync$", RouteBalance.ByUser,
            "a user's long-polls keep to one host; initial syncs (no since) go apart, to any host"),
        new("room", Client + "/rooms/[^/]+/", RouteBalance.ByRoom,
            "event sending, state, typing, receipts and history of one room keep to one host"),
        new("user_streams", Client + "/(?:sendToDevice|keys|room_keys|presence|pushrules|notifications|user/[^/]+/(?:account_data|rooms|filter))(?:/|$)",
            RouteBalance.ByUser, "to-device, keys, account data, presence and push rules of one user keep to one host"),
        new("federation_send", "^/_matrix/federation/v1/send/", RouteBalance.ByOrigin,
            "transactions from one server arrive in order at one host"),
        new("media", "^/_matrix/(?:media|client/v1/media)/", RouteBalance.LeastConnections, "media hosts"),
        new("client", "^/_matrix/client/", RouteBalance.LeastConnections, "the rest of the client API"),
        new("federation", "^/_matrix/(?:federation|key)/", RouteBalance.LeastConnections, "the rest of federation"),
        new("synapse", "^/_synapse/", RouteBalance.LeastConnections, "admin and client extras under /_synapse"),
        new("well_known", "^/\\.well-known/matrix/", RouteBalance.LeastConnections, "server and client discovery"),
    ];

    /// <summary>The route a path takes, or null when the proxy does not forward it.</summary>
    public static ProxyRoute? For(string path) => All.FirstOrDefault(r => r.Regex.IsMatch(path));
}
