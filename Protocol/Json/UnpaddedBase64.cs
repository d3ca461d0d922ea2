namespace Homeserver.Protocol;

/// <summary>Base64 without '=' padding, standard and URL-safe alphabets, as the spec uses them.</summary>
public static class UnpaddedBase64
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    public static string EncodeUrlSafe(ReadOnlySpan<byte> bytes) => Encode(bytes).Replace('+', '-').Replace('/', '_');

    /// <summary>Decodes either alphabet, padded or not.</summary>
    public static byte[] Decode(string text)
    {
        var standard = text.TrimEnd('=').Replace('-', '+').Replace('_', '/');
        var padded = standard.PadRight(standard.Length + (4 - standard.Length % 4) % 4, '=');
        return Convert.FromBase64String(padded);
    }
}
