using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// Auth chains (server-server-api "Auth chain"): every event reachable from some events along
/// <c>auth_events</c>, read level by level from what the room holds, within a bound so that a room
/// with a hostile history cannot make one request read without end.
/// </summary>
public sealed class AuthChains(RoomDagStore dag)
{
    public const int MaxEvents = 20_000;

    /// <summary>The auth chain of <paramref name="startPdus"/> (the events themselves not included unless one is another's auth event), as PDU JSON by ID.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ForAsync(string roomId, RoomVersion version, IEnumerable<string> startPdus,
        CancellationToken cancellationToken)
    {
        var chain = new Dictionary<string, string>(StringComparer.Ordinal);
        var next = new HashSet<string>(startPdus.SelectMany(json => References(json, version)), StringComparer.Ordinal);
        while (next.Count > 0)
        {
            if (chain.Count + next.Count > MaxEvents) throw new MatrixException(500, "M_UNKNOWN", "The auth chain is too long to serve.");
            var found = await dag.GetPdusAsync(roomId, next, cancellationToken);
            var following = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (id, json) in found)
            {
                chain[id] = json;
                foreach (var auth in References(json, version)) if (!chain.ContainsKey(auth)) following.Add(auth);
            }
            next = following;
        }
        return chain;
    }

    private static IReadOnlyList<string> References(string json, RoomVersion version) =>
        PduFormat.References(StoredJson.Parse(json)?["auth_events"], version) ?? [];
}
