using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>A key an <c>m.room.third_party_invite</c> publishes, with the URL that says whether it is still valid.</summary>
public sealed record ThirdPartyInviteKey(string PublicKey, string? ValidityUrl);

/// <summary>
/// The keys of a third-party invite and the check of its signed block against them, shared by the auth
/// rules (rule 6.4.1.7) and by the server that redeems the invite (which also asks each key's validity).
/// </summary>
public static class ThirdPartyInviteKeys
{
    /// <summary>
    /// The content's keys: the single <c>public_key</c> first, then <c>public_keys</c>, as Synapse lists
    /// them. Anything but a string counts as absent: whoever sent the event shaped the content.
    /// </summary>
    public static IEnumerable<ThirdPartyInviteKey> PublishedBy(JsonNode? content)
    {
        if (Text(content?["public_key"]) is { } single) yield return new ThirdPartyInviteKey(single, Text(content!["key_validity_url"]));
        foreach (var entry in content?["public_keys"] as JsonArray ?? [])
        {
            if (Text(entry?["public_key"]) is { } key) yield return new ThirdPartyInviteKey(key, Text(entry!["key_validity_url"]));
        }
    }

    /// <summary>Whether any signature in <paramref name="signed"/> verifies with the unpadded-base64 public key.</summary>
    public static bool Signs(JsonObject signed, string publicKeyBase64)
    {
        byte[] publicKey;
        try
        {
            publicKey = UnpaddedBase64.Decode(publicKeyBase64);
        }
        catch (FormatException)
        {
            return false;
        }
        foreach (var (server, signatures) in signed["signatures"] as JsonObject ?? [])
        {
            foreach (var (keyId, _) in signatures as JsonObject ?? [])
            {
                if (JsonSigning.Verify(signed, server, keyId, publicKey)) return true;
            }
        }
        return false;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
