using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using MimeKit;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// The typed fields of 3PID requests, checked once: a client secret and session ID of the spec's
/// alphabet, an email address in the one form it is stored and looked up in.
/// </summary>
public static partial class ThreePidInput
{
    /// <summary>Longer than any real address (RFC 5321 allows 254); a hostile one goes no further.</summary>
    private const int MaxAddressLength = 320;

    /// <summary>The spec's <c>client_secret</c>: <c>[0-9a-zA-Z.=_-]</c>, 1 to 255 characters. Session IDs have the same alphabet.</summary>
    public static string ClientSecret(JsonObject body, string key = "client_secret") => Opaque(body.RequiredString(key), key);

    public static string Opaque(string value, string key) =>
        OpaqueText().IsMatch(value) ? value : throw new MatrixException(400, "M_INVALID_PARAM", $"'{key}' must be 1 to 255 characters of [0-9a-zA-Z.=_-].");

    /// <summary>An <c>id_server</c>: a server name (host and optional port), as the identity server client needs it.</summary>
    public static string IdServer(string value) =>
        Protocol.ServerName.TryParse(value, out _) ? value : throw new MatrixException(400, "M_INVALID_PARAM", "'id_server' must be a host name with an optional port.");

    /// <summary>
    /// An email address as Synapse canonicalises it: trimmed and lower-cased, so that the address a user
    /// validated, logs in with and is invited by is one row. It must be one mailbox MimeKit can address.
    /// </summary>
    public static string Email(string value) =>
        TryEmail(value) ?? throw new MatrixException(400, "M_INVALID_PARAM", "The email address is not valid.");

    /// <summary>The canonical address, or null when it is none (a login by it then fails like a wrong password).</summary>
    public static string? TryEmail(string value)
    {
        var address = value.Trim().ToLowerInvariant();
        var at = address.IndexOf('@');
        var valid = address.Length <= MaxAddressLength && at > 0 && at == address.LastIndexOf('@') && at < address.Length - 1 &&
            !address.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) &&
            MailboxAddress.TryParse(address, out var mailbox) && mailbox.Address == address;
        return valid ? address : null;
    }

    /// <summary>The <c>medium</c> of a request: email or msisdn, as the spec enumerates.</summary>
    public static string Medium(JsonObject body) => body.RequiredString("medium") switch
    {
        "email" => "email",
        "msisdn" => "msisdn",
        var other => throw new MatrixException(400, "M_INVALID_PARAM", $"Unknown medium '{other}'; it must be email or msisdn."),
    };

    /// <summary>The address of a 3PID in its stored form: emails canonical, phone numbers as given.</summary>
    public static string Address(string medium, string address) => medium == "email" ? Email(address) : address;

    /// <summary>A required non-negative integer, such as <c>send_attempt</c>.</summary>
    public static long Integer(JsonObject body, string key) => body[key] switch
    {
        null => throw new MatrixException(400, "M_MISSING_PARAM", $"'{key}' is missing."),
        JsonValue v when v.TryGetValue<long>(out var n) && n >= 0 => n,
        JsonValue v when v.TryGetValue<double>(out var d) && d >= 0 && d == Math.Floor(d) && d < long.MaxValue => (long)d,
        _ => throw new MatrixException(400, "M_BAD_JSON", $"'{key}' must be a non-negative integer."),
    };

    /// <summary>
    /// A <c>next_link</c> must be an absolute http(s) URL: Synapse refuses others (a file: link in a
    /// mail from this server would be an attack on its reader).
    /// </summary>
    public static string? NextLink(JsonObject body)
    {
        var text = body.OptionalString("next_link");
        if (text is null) return null;
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && text.Length <= 2048
            ? text
            : throw new MatrixException(400, "M_INVALID_PARAM", "'next_link' must be an http or https URL.");
    }

    [GeneratedRegex("^[0-9a-zA-Z.=_-]{1,255}$")]
    private static partial Regex OpaqueText();
}
