using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The <c>Authorization: X-Matrix ...</c> header of a server-server request (server-server-api "Request
/// Authentication"): the sender signs a JSON object of method, target URI, origin, destination and the
/// parsed body, and sends the origin, destination, key ID and signature as auth parameters.
/// </summary>
public sealed record XMatrixAuthorization(string Origin, string? Destination, string KeyId, string Signature)
{
    public const string Scheme = "X-Matrix";

    /// <summary>Headers longer than this are refused unread: four short parameters never need more.</summary>
    public const int MaxHeaderLength = 4096;

    /// <summary>Signs a request: <paramref name="uri"/> is the path from <c>/_matrix/</c> with its query; <paramref name="content"/> null when there is no body.</summary>
    public static XMatrixAuthorization Sign(string method, string uri, string origin, string destination, JsonNode? content, SigningKey key)
    {
        var request = RequestJson(method, uri, origin, destination, content);
        JsonSigning.Sign(request, origin, key);
        return new XMatrixAuthorization(origin, destination, key.KeyId, request["signatures"]![origin]![key.KeyId]!.GetValue<string>());
    }

    /// <summary>
    /// Whether the signature covers this request as the receiving server <paramref name="localServer"/> got
    /// it, with the sender's public key for <see cref="KeyId"/>. A destination other than ours fails (spec:
    /// 401); a header without one passes, as the spec asks of recipients for older senders.
    /// </summary>
    public bool Verify(string method, string uri, string localServer, JsonNode? content, byte[] publicKey)
    {
        if (Destination is not null && Destination != localServer) return false;
        var request = RequestJson(method, uri, Origin, localServer, content);
        JsonSigning.AddSignature(request, Origin, KeyId, Signature);
        return JsonSigning.Verify(request, Origin, KeyId, publicKey);
    }

    /// <summary>The header value, as the spec asks senders to write it for older servers: one space, lower-case names, no spaces around commas.</summary>
    public string ToHeaderValue() =>
        $"{Scheme} origin=\"{Origin}\",destination=\"{Destination}\",key=\"{KeyId}\",sig=\"{Signature}\"";

    /// <summary>
    /// Parses a header value per RFC 9110 section 11.4 as the spec describes it: the scheme (any case),
    /// spaces, then name=value pairs separated by commas with optional spaces and tabs; names in any case
    /// and order; values as tokens or quoted strings with backslash escapes; colons allowed unquoted;
    /// unknown parameters ignored. Origin, key and sig are required; a repeated parameter is refused.
    /// </summary>
    public static bool TryParse(string? header, out XMatrixAuthorization authorization, out string error)
    {
        authorization = null!;
        if (string.IsNullOrEmpty(header)) return Fail("there is no Authorization header", out error);
        if (header.Length > MaxHeaderLength) return Fail("the Authorization header is too long", out error);
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || header.Length == Scheme.Length || header[Scheme.Length] != ' ')
        {
            return Fail("the Authorization header is not of the X-Matrix scheme", out error);
        }

        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var text = header.AsSpan(Scheme.Length);
        var position = 0;
        while (true)
        {
            SkipWhitespace(text, ref position);
            if (position >= text.Length) break;
            var nameStart = position;
            while (position < text.Length && IsTokenChar(text[position])) position++;
            if (position == nameStart || position >= text.Length || text[position] != '=')
            {
                return Fail("the X-Matrix parameters are not name=value pairs", out error);
            }
            var name = text[nameStart..position].ToString();
            position++;
            string value;
            if (position < text.Length && text[position] == '"')
            {
                position++;
                var quoted = new StringBuilder();
                while (true)
                {
                    if (position >= text.Length) return Fail("an X-Matrix value's quotes are not closed", out error);
                    var c = text[position++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (position >= text.Length) return Fail("an X-Matrix value ends in a backslash", out error);
                        c = text[position++];
                    }
                    quoted.Append(c);
                }
                value = quoted.ToString();
            }
            else
            {
                var valueStart = position;
                while (position < text.Length && (IsTokenChar(text[position]) || text[position] == ':')) position++;
                if (position == valueStart) return Fail($"the X-Matrix parameter '{name}' has no value", out error);
                value = text[valueStart..position].ToString();
            }
            if (!parameters.TryAdd(name, value)) return Fail($"the X-Matrix parameter '{name}' is given twice", out error);
            SkipWhitespace(text, ref position);
            if (position >= text.Length) break;
            if (text[position] != ',') return Fail("the X-Matrix parameters are not separated by commas", out error);
            position++;
        }

        if (!parameters.TryGetValue("origin", out var origin) || !ServerName.TryParse(origin, out _))
        {
            return Fail("the X-Matrix origin is missing or not a server name", out error);
        }
        if (!parameters.TryGetValue("key", out var keyId) || !keyId.StartsWith("ed25519:", StringComparison.Ordinal) || keyId.Length == "ed25519:".Length)
        {
            return Fail("the X-Matrix key is missing or not an ed25519 key ID", out error);
        }
        if (!parameters.TryGetValue("sig", out var signature) || signature.Length == 0) return Fail("the X-Matrix sig is missing", out error);
        parameters.TryGetValue("destination", out var destination);
        authorization = new XMatrixAuthorization(origin, destination, keyId, signature);
        error = "";
        return true;
    }

    private static JsonObject RequestJson(string method, string uri, string origin, string destination, JsonNode? content)
    {
        var request = new JsonObject { ["method"] = method, ["uri"] = uri, ["origin"] = origin, ["destination"] = destination };
        if (content is not null) request["content"] = content.DeepClone();
        return request;
    }

    private static void SkipWhitespace(ReadOnlySpan<char> text, ref int position)
    {
        while (position < text.Length && text[position] is ' ' or '\t') position++;
    }

    /// <summary>RFC 9110 tchar.</summary>
    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static bool Fail(string reason, out string error)
    {
        error = reason;
        return false;
    }
}
