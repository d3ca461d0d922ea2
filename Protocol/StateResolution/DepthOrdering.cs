using System.Security.Cryptography;
using System.Text;

namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The v1 order: highest depth first, then lowest sha1(event_id). The hash is the lower-case hex
/// digest of the ID's UTF-8 bytes compared as text, which is how Synapse sorts (and, hex digits
/// being ordered like the nibbles they stand for, the same as comparing the raw digests).
/// </summary>
internal static class DepthOrdering
{
    public static List<ResolutionEvent> Sort(IEnumerable<ResolutionEvent> events) => events
        .Select(e => (Event: e, Hash: Sha1Hex(e.Id)))
        .OrderByDescending(p => p.Event.Depth)
        .ThenBy(p => p.Hash, StringComparer.Ordinal)
        .Select(p => p.Event)
        .ToList();

    // SHA-1 here is the spec's tie-break, not a security measure.
    internal static string Sha1Hex(string eventId) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(eventId)));
}
