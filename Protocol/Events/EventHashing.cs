using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>The content hash: SHA-256 of the event's canonical JSON without unsigned, signatures and hashes.</summary>
public static class ContentHash
{
    public static string Compute(JsonObject evt)
    {
        var copy = evt.DeepClone().AsObject();
        copy.Remove("unsigned");
        copy.Remove("signatures");
        copy.Remove("hashes");
        return UnpaddedBase64.Encode(SHA256.HashData(CanonicalJson.Encode(copy)));
    }

    /// <summary>Sets <c>hashes.sha256</c> on the event.</summary>
    public static void Add(JsonObject evt) => evt["hashes"] = new JsonObject { ["sha256"] = Compute(evt) };
}

/// <summary>The reference hash: SHA-256 of the redacted event without signatures and unsigned; it names events from v3.</summary>
public static class ReferenceHash
{
    public static byte[] Compute(JsonObject evt, RoomVersion version)
    {
        var redacted = Redaction.Redact(evt, version);
        redacted.Remove("signatures");
        redacted.Remove("unsigned");
        return SHA256.HashData(CanonicalJson.Encode(redacted));
    }
}

public static class EventIds
{
    /// <summary>The event ID of a room version 3+ event: <c>$</c> + its reference hash in (URL-safe from v4) unpadded base64.</summary>
    public static EventId Compute(JsonObject evt, RoomVersion version)
    {
        if (version.EventIdsAreServerScoped)
        {
            throw new InvalidOperationException($"Room version {version.Id} events carry their ID; it is not derived from a hash.");
        }
        var hash = ReferenceHash.Compute(evt, version);
        var encoded = version.EventIdsAreUrlSafe ? UnpaddedBase64.EncodeUrlSafe(hash) : UnpaddedBase64.Encode(hash);
        return EventId.Parse("$" + encoded);
    }

    /// <summary>A fresh event ID for room versions 1 and 2: <c>$random:server</c>.</summary>
    public static EventId NewServerScoped(ServerName server) => EventId.Parse($"${RandomText.Letters(18)}:{server}");
}

/// <summary>Signing events: the redacted form is what is signed, so a redaction keeps signatures valid.</summary>
public static class EventSigning
{
    public static void SignEvent(JsonObject evt, RoomVersion version, string serverName, SigningKey key)
    {
        var redacted = Redaction.Redact(evt, version);
        JsonSigning.Sign(redacted, serverName, key);
        var signature = redacted["signatures"]![serverName]![key.KeyId]!.GetValue<string>();
        JsonSigning.AddSignature(evt, serverName, key.KeyId, signature);
    }

    public static bool VerifyEvent(JsonObject evt, RoomVersion version, string serverName, string keyId, byte[] publicKey) =>
        JsonSigning.Verify(Redaction.Redact(evt, version), serverName, keyId, publicKey);
}
