using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Homeserver.Protocol;

/// <summary>
/// A room's <c>m.room.server_acl</c> (server-server-api "Server Access Control Lists"): the server name is
/// matched without its port; an IP literal is refused when <c>allow_ip_literals</c> is false; then a match in
/// <c>deny</c> refuses, a match in <c>allow</c> admits, and anything else is refused. Globs take <c>*</c> and
/// <c>?</c> and match case-insensitively, as Synapse's. No ACL event admits everyone.
/// </summary>
public static class ServerAcl
{
    public static bool Allows(JsonObject? acl, string serverName)
    {
        if (acl is null) return true;
        var host = HostOf(serverName);
        var ipLiteral = host.StartsWith('[') || IPAddress.TryParse(host, out _);
        if (ipLiteral && acl["allow_ip_literals"] is JsonValue literals && literals.TryGetValue<bool>(out var allowed) && !allowed) return false;
        if (Globs(acl["deny"]).Any(glob => glob.IsMatch(host))) return false;
        return Globs(acl["allow"]).Any(glob => glob.IsMatch(host));
    }

    /// <summary>The server name without its port: <c>[::1]:8448</c> is <c>[::1]</c>, <c>example.org:8448</c> is <c>example.org</c>.</summary>
    private static string HostOf(string serverName)
    {
        if (serverName.StartsWith('[')) return serverName.IndexOf(']') is var end and > 0 ? serverName[..(end + 1)] : serverName;
        return serverName.LastIndexOf(':') is var colon and > 0 ? serverName[..colon] : serverName;
    }

    private static IEnumerable<Regex> Globs(JsonNode? list) =>
        (list as JsonArray ?? []).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).OfType<string>()
            .Select(glob => new Regex("^" + Regex.Escape(glob).Replace("\\*", ".*").Replace("\\?", ".") + "$",
                RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)));
}
