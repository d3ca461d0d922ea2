using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>Signing JSON objects per the spec: sign the canonical form without <c>signatures</c> and <c>unsigned</c>.</summary>
public static class JsonSigning
{
    public static void Sign(JsonObject obj, string serverName, SigningKey key) =>
        AddSignature(obj, serverName, key.KeyId, UnpaddedBase64.Encode(key.Sign(CanonicalJson.Encode(WithoutSignatures(obj)))));

    /// <summary>Puts a signature at <c>signatures.{server}.{keyId}</c>, keeping the others.</summary>
    internal static void AddSignature(JsonObject obj, string serverName, string keyId, string signature)
    {
        if (obj["signatures"] is not JsonObject signatures)
        {
            signatures = new JsonObject();
            obj["signatures"] = signatures;
        }
        if (signatures[serverName] is not JsonObject ours)
        {
            ours = new JsonObject();
            signatures[serverName] = ours;
        }
        ours[keyId] = signature;
    }

    public static bool Verify(JsonObject obj, string serverName, string keyId, byte[] publicKey)
    {
        if (obj["signatures"]?[serverName]?[keyId] is not JsonValue value || !value.TryGetValue<string>(out var encoded)) return false;
        byte[] signature;
        try
        {
            signature = UnpaddedBase64.Decode(encoded);
        }
        catch (FormatException)
        {
            return false;
        }
        return SigningKey.Verify(CanonicalJson.Encode(WithoutSignatures(obj)), signature, publicKey);
    }

    private static JsonObject WithoutSignatures(JsonObject obj)
    {
        var copy = obj.DeepClone().AsObject();
        copy.Remove("signatures");
        copy.Remove("unsigned");
        return copy;
    }
}
