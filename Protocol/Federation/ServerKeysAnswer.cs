using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>One public key of a server, and the last moment (ms) it verifies signatures.</summary>
public sealed record ServerVerifyKey(string ServerName, string KeyId, byte[] PublicKey, long ValidUntilTs, bool Expired)
{
    public string PublicKeyBase64 => UnpaddedBase64.Encode(PublicKey);
}

/// <summary>
/// A server's "Server Keys" object (server-server-api "Retrieving server keys"), as the server answers
/// <c>GET /_matrix/key/v2/server</c> or as one entry of a notary's answer, checked the way Synapse checks
/// it: the server name is the one asked about, every signature the server made with a key it lists
/// verifies, and there is at least one. Ed25519 keys only; other algorithms are skipped.
/// </summary>
public sealed record ServerKeysAnswer(string ServerName, long ValidUntilTs, IReadOnlyList<ServerVerifyKey> Keys, JsonObject Json)
{
    /// <summary>Spec: a key's validity is capped at seven days after it was fetched, so a leaked key cannot be trusted for long.</summary>
    public static readonly TimeSpan MaximumValidity = TimeSpan.FromDays(7);

    /// <summary>More keys than any honest server publishes; an answer listing more is refused rather than stored.</summary>
    public const int MaxKeys = 100;

    /// <summary>
    /// Checks <paramref name="node"/> as the keys of <paramref name="serverName"/>, fetched at <paramref name="nowTs"/>;
    /// each key's validity is capped at <see cref="MaximumValidity"/> from then.
    /// </summary>
    public static bool TryVerify(JsonNode? node, string serverName, long nowTs, out ServerKeysAnswer answer, out string error)
    {
        answer = null!;
        if (node is not JsonObject json) return Fail("the answer is not a JSON object", out error);
        if (Text(json["server_name"]) != serverName) return Fail($"the answer is not about {serverName}", out error);
        if (!Integer(json["valid_until_ts"], out var validUntil)) return Fail("valid_until_ts is not an integer", out error);
        if (json["verify_keys"] is not JsonObject verifyKeys) return Fail("verify_keys is not an object", out error);
        var oldKeys = json["old_verify_keys"] switch
        {
            null => [],
            JsonObject o => o,
            _ => null,
        };
        if (oldKeys is null) return Fail("old_verify_keys is not an object", out error);
        if (verifyKeys.Count + oldKeys.Count > MaxKeys) return Fail($"the answer lists more than {MaxKeys} keys", out error);

        var cap = nowTs + (long)MaximumValidity.TotalMilliseconds;
        var keys = new List<ServerVerifyKey>();
        var current = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (keyId, entry) in verifyKeys)
        {
            if (!IsEd25519(keyId)) continue;
            if (!PublicKey(entry, out var publicKey)) return Fail($"verify_keys.{keyId} has no 32-byte base64 key", out error);
            current[keyId] = publicKey;
            keys.Add(new ServerVerifyKey(serverName, keyId, publicKey, Math.Min(validUntil, cap), Expired: false));
        }

        var verified = false;
        if (json["signatures"]?[serverName] is JsonObject signatures)
        {
            foreach (var (keyId, _) in signatures)
            {
                // A notary's own key may sign its answer about itself without being listed here (Synapse skips it too).
                if (!current.TryGetValue(keyId, out var publicKey)) continue;
                if (!JsonSigning.Verify(json, serverName, keyId, publicKey)) return Fail($"the signature by {keyId} does not verify", out error);
                verified = true;
            }
        }
        if (!verified) return Fail($"the answer is not signed by a key {serverName} lists", out error);

        foreach (var (keyId, entry) in oldKeys)
        {
            if (!IsEd25519(keyId) || current.ContainsKey(keyId)) continue;
            if (!PublicKey(entry, out var publicKey)) return Fail($"old_verify_keys.{keyId} has no 32-byte base64 key", out error);
            if (!Integer(entry?["expired_ts"], out var expired)) return Fail($"old_verify_keys.{keyId}.expired_ts is not an integer", out error);
            keys.Add(new ServerVerifyKey(serverName, keyId, publicKey, Math.Min(expired, cap), Expired: true));
        }
        answer = new ServerKeysAnswer(serverName, validUntil, keys, json);
        error = "";
        return true;
    }

    /// <summary>Whether a notary signed <paramref name="json"/> with one of the keys its operator configured (any one suffices, as in Synapse).</summary>
    public static bool SignedByNotary(JsonObject json, string notary, IReadOnlyDictionary<string, byte[]> notaryKeys)
    {
        if (json["signatures"]?[notary] is not JsonObject signatures) return false;
        var verified = false;
        foreach (var (keyId, _) in signatures)
        {
            if (!notaryKeys.TryGetValue(keyId, out var publicKey)) continue;
            if (!JsonSigning.Verify(json, notary, keyId, publicKey)) return false;
            verified = true;
        }
        return verified;
    }

    private static bool IsEd25519(string keyId) => keyId.StartsWith("ed25519:", StringComparison.Ordinal) && keyId.Length > "ed25519:".Length;

    private static bool PublicKey(JsonNode? entry, out byte[] publicKey)
    {
        publicKey = [];
        if (Text(entry?["key"]) is not { } encoded) return false;
        try
        {
            publicKey = UnpaddedBase64.Decode(encoded);
        }
        catch (FormatException)
        {
            return false;
        }
        return publicKey.Length == 32;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool Integer(JsonNode? node, out long value)
    {
        value = 0;
        return node is JsonValue v && v.TryGetValue(out value);
    }

    private static bool Fail(string reason, out string error)
    {
        error = reason;
        return false;
    }
}
