using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Homeserver.Configuration;

/// <summary>Reads the keys that limit outbound federation, with Synapse's defaults and its reading of the deprecated key.</summary>
public static class FederationConfigReader
{
    /// <summary>Synapse's <c>DEFAULT_IP_RANGE_BLOCKLIST</c>: loopback, private, shared, link-local, reserved, documentation and multicast ranges.</summary>
    public static readonly IReadOnlyList<string> DefaultBlacklistRanges =
    [
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24", "169.254.0.0/16",
        "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
        "::1/128", "fe80::/10", "fc00::/7", "2001:db8::/32", "ff00::/8", "fec0::/10",
    ];

    /// <summary>Blocked whatever the configuration says, as in Synapse: "any address" is never a destination.</summary>
    private static readonly IReadOnlyList<string> AlwaysBlocked = ["0.0.0.0", "::"];

    public static IpRangeSet DefaultBlacklist { get; } = Ranges(DefaultBlacklistRanges.Concat(AlwaysBlocked), "defaults", "ip_range_blacklist");

    /// <summary><c>ip_range_blacklist</c> and <c>ip_range_whitelist</c> as given (or Synapse's defaults), for every outbound client.</summary>
    internal static (IpRangeSet Blacklist, IpRangeSet Whitelist) ReadIpRanges(YamlSection root) =>
        (Ranges((root.StringOrList("ip_range_blacklist") ?? DefaultBlacklistRanges).Concat(AlwaysBlocked), root.File, "ip_range_blacklist"),
         Ranges(root.StringOrList("ip_range_whitelist") ?? [], root.File, "ip_range_whitelist"));

    internal static FederationClientOptions Read(YamlSection root, List<string> warnings)
    {
        var (blacklist, whitelist) = ReadIpRanges(root);
        // Synapse (1.25 onwards) does not merge the old key: given, it replaces ip_range_blacklist for
        // federation, and ip_range_whitelist then no longer applies to federation at all.
        if (root.StringOrList("federation_ip_range_blacklist") is { } legacy)
        {
            blacklist = Ranges(legacy.Concat(AlwaysBlocked), root.File, "federation_ip_range_blacklist");
            whitelist = IpRangeSet.Empty;
            warnings.Add("`federation_ip_range_blacklist` is deprecated: it replaces `ip_range_blacklist` for federation, and `ip_range_whitelist` does not apply to federation while it is set. Use `ip_range_blacklist` instead.");
        }

        HashSet<string>? domains = null;
        if (root.StringOrList("federation_domain_whitelist") is { } listed)
        {
            domains = new HashSet<string>(StringComparer.Ordinal);
            foreach (var domain in listed)
            {
                if (!IsServerName(domain))
                {
                    throw new ConfigurationException($"{root.File}: `federation_domain_whitelist` must list server names such as example.org, not `{domain}`.");
                }
                domains.Add(domain);
            }
        }

        var verify = root.Bool("federation_verify_certificates", true);
        if (!verify) warnings.Add("`federation_verify_certificates` is false: any certificate is accepted from other homeservers, which only tests should do.");

        var timeout = TimeSpan.FromSeconds(60);
        if (root.Section("federation") is { } federation)
        {
            timeout = EmailConfigReader.Duration(federation, "client_timeout", timeout);
        }
        return new FederationClientOptions
        {
            IpRangeBlacklist = blacklist,
            IpRangeWhitelist = whitelist,
            DomainWhitelist = domains,
            VerifyCertificates = verify,
            ClientTimeout = timeout,
            TrustedKeyServers = ReadTrustedKeyServers(root, warnings),
        };
    }

    /// <summary>
    /// Synapse's <c>federation.destination_min_retry_interval</c>, <c>destination_retry_multiplier</c> and
    /// <c>destination_max_retry_interval</c>: how the backoff from a failing server grows.
    /// </summary>
    internal static FederationSenderOptions ReadSender(YamlSection root)
    {
        var defaults = new FederationSenderOptions();
        if (root.Section("federation") is not { } federation) return defaults;
        try
        {
            return new FederationSenderOptions
            {
                MinRetryInterval = EmailConfigReader.Duration(federation, "destination_min_retry_interval", defaults.MinRetryInterval),
                RetryMultiplier = federation.Double("destination_retry_multiplier", defaults.RetryMultiplier),
                MaxRetryInterval = EmailConfigReader.Duration(federation, "destination_max_retry_interval", defaults.MaxRetryInterval),
            }.Validated();
        }
        catch (ConfigurationException e)
        {
            throw new ConfigurationException($"{root.File}: {e.Message}");
        }
    }

    /// <summary>Synapse's <c>trusted_key_servers</c>: a notary without <c>verify_keys</c> is refused unless <c>accept_keys_insecurely</c> says so.</summary>
    private static IReadOnlyList<TrustedKeyServer> ReadTrustedKeyServers(YamlSection root, List<string> warnings)
    {
        var servers = new List<TrustedKeyServer>();
        foreach (var entry in root.Sections("trusted_key_servers"))
        {
            var name = entry.RequiredString("server_name");
            if (!IsServerName(name)) throw new ConfigurationException($"{root.File}: `{entry.PathOf("server_name")}` must be a server name, not `{name}`.");
            Dictionary<string, byte[]>? keys = null;
            if (entry.Section("verify_keys") is { } verifyKeys)
            {
                keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                foreach (var keyId in verifyKeys.Keys)
                {
                    if (!keyId.StartsWith("ed25519:", StringComparison.Ordinal) || keyId.Length == "ed25519:".Length)
                    {
                        throw new ConfigurationException($"{root.File}: `{verifyKeys.PathOf(keyId)}` must be an ed25519 key ID such as ed25519:auto.");
                    }
                    var text = verifyKeys.String(keyId) ?? "";
                    var key = DecodeKey(text);
                    if (key is not { Length: 32 })
                    {
                        throw new ConfigurationException($"{root.File}: `{verifyKeys.PathOf(keyId)}` must be a 32-byte Ed25519 public key in unpadded base64, not `{text}`.");
                    }
                    keys[keyId] = key;
                }
                if (keys.Count == 0) throw new ConfigurationException($"{root.File}: `{entry.PathOf("verify_keys")}` lists no key.");
            }
            else if (!entry.Bool("accept_keys_insecurely", false))
            {
                throw new ConfigurationException(
                    $"{root.File}: `{entry.PathOf("verify_keys")}` is missing: without the notary's keys its answers cannot be checked (set `accept_keys_insecurely: true` to trust it anyway).");
            }
            else
            {
                warnings.Add($"`trusted_key_servers` entry `{name}` has no `verify_keys`: its answers are trusted unchecked.");
            }
            if (servers.Any(s => s.ServerName == name)) throw new ConfigurationException($"{root.File}: `trusted_key_servers` lists `{name}` twice.");
            servers.Add(new TrustedKeyServer(name, keys));
        }
        return servers;
    }

    private static byte[]? DecodeKey(string text)
    {
        var standard = text.TrimEnd('=').Replace('-', '+').Replace('_', '/');
        try
        {
            return Convert.FromBase64String(standard.PadRight(standard.Length + (4 - standard.Length % 4) % 4, '='));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// CIDR ranges or single addresses; host bits past the prefix are dropped, as Synapse's IPSet does. Each
    /// IPv4 range also covers its IPv4-compatible, IPv4-mapped and 6to4 IPv6 forms, so an IPv6 spelling of
    /// a blocked address is blocked too.
    /// </summary>
    public static IpRangeSet Ranges(IEnumerable<string> texts, string sourceName, string key)
    {
        var ranges = new List<IPNetwork>();
        foreach (var text in texts)
        {
            var range = ParseRange(text) ?? throw new ConfigurationException(
                $"{sourceName}: `{key}` must list IP addresses or CIDR ranges such as 10.0.0.0/8, not `{text}`.");
            ranges.Add(range);
            if (range.BaseAddress.AddressFamily == AddressFamily.InterNetwork)
            {
                var v4 = range.BaseAddress.GetAddressBytes();
                ranges.Add(Embedded(v4, range.PrefixLength, mapped: true));
                ranges.Add(Embedded(v4, range.PrefixLength, mapped: false));
                var sixToFour = new byte[16];
                sixToFour[0] = 0x20;
                sixToFour[1] = 0x02;
                v4.CopyTo(sixToFour, 2);
                ranges.Add(new IPNetwork(new IPAddress(sixToFour), 16 + range.PrefixLength));
            }
        }
        return new IpRangeSet(ranges);
    }

    private static IPNetwork Embedded(byte[] v4, int prefix, bool mapped)
    {
        var bytes = new byte[16];
        if (mapped)
        {
            bytes[10] = 0xff;
            bytes[11] = 0xff;
        }
        v4.CopyTo(bytes, 12);
        return new IPNetwork(new IPAddress(bytes), 96 + prefix);
    }

    private static IPNetwork? ParseRange(string text)
    {
        var slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (addressText.Contains('%') || !IPAddress.TryParse(addressText, out var address)) return null;
        // IPAddress takes "10" or "10.1" as shorthand; a range list names full addresses.
        if (address.AddressFamily == AddressFamily.InterNetwork && addressText.Split('.').Length != 4) return null;
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits)) return null;
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bits; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        return new IPNetwork(new IPAddress(bytes), prefix);
    }

    private static bool IsServerName(string value)
    {
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']');
            if (close < 0 || !IPAddress.TryParse(value[1..close], out _)) return false;
            var rest = value[(close + 1)..];
            return rest.Length == 0 || (rest[0] == ':' && int.TryParse(rest[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536);
        }
        var colon = value.LastIndexOf(':');
        var host = colon >= 0 ? value[..colon] : value;
        if (colon >= 0 && !(int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)) return false;
        return host.Length is > 0 and <= 255 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.');
    }
}
