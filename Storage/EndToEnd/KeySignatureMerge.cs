using System.Text.Json.Nodes;

namespace Homeserver.Storage.EndToEnd;

/// <summary>Keys as clients and other servers see them: signatures uploaded apart (<c>key_signatures</c>) merged back into <c>signatures</c>.</summary>
public static class KeySignatureMerge
{
    /// <summary>A cross-signing key with the signatures stored apart from it (a key names its one public key as its ID).</summary>
    public static JsonObject Signed(JsonObject key, string userId, IReadOnlyList<KeySignatureRow> signatures) =>
        key["keys"] is JsonObject k && k.Count == 1 && k.First().Value?.ToString() is { } publicKey ? WithSignatures(key, userId, publicKey, signatures) : key;

    /// <summary>Merges signatures stored apart from the key into its <c>signatures</c>.</summary>
    public static JsonObject WithSignatures(JsonObject key, string userId, string keyId, IReadOnlyList<KeySignatureRow> signatures)
    {
        foreach (var s in signatures.Where(s => s.TargetUserId == userId && s.TargetKeyId == keyId))
        {
            var all = key["signatures"] as JsonObject ?? (JsonObject)(key["signatures"] = new JsonObject());
            var bySigner = all[s.SignerUserId] as JsonObject ?? (JsonObject)(all[s.SignerUserId] = new JsonObject());
            bySigner[s.SigningKeyId] = s.Signature;
        }
        return key;
    }
}
