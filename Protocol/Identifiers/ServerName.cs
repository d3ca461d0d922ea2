using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Homeserver.Protocol;

/// <summary>A server name per the spec's grammar: DNS name, IPv4 address or bracketed IPv6 literal, optional port.</summary>
[JsonConverter(typeof(ServerNameJsonConverter))]
public readonly record struct ServerName
{
    private ServerName(string value, string host, int? port)
    {
        Value = value;
        Host = host;
        Port = port;
    }

    public string Value { get; }
    public string Host { get; }
    public int? Port { get; }

    public override string ToString() => Value;

    public static ServerName Parse(string value) =>
        TryParse(value, out var name) ? name : throw new FormatException($"'{value}' is not a valid server name.");

    public static bool TryParse(string? value, out ServerName name)
    {
        name = default;
        if (string.IsNullOrEmpty(value) || value.Length > 255 + 6) return false;
        string host;
        string? portText = null;
        if (value[0] == '[')
        {
            var close = value.IndexOf(']');
            if (close < 0) return false;
            host = value[..(close + 1)];
            var rest = value[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':') return false;
                portText = rest[1..];
            }
            var literal = host[1..^1];
            if (literal.Length == 0 || literal.Any(c => !(Uri.IsHexDigit(c) || c is ':' or '.'))) return false;
            if (!IPAddress.TryParse(literal, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6) return false;
        }
        else
        {
            var colon = value.LastIndexOf(':');
            host = colon >= 0 ? value[..colon] : value;
            if (colon >= 0) portText = value[(colon + 1)..];
            if (host.Length is 0 or > 255) return false;
            if (host.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))) return false;
        }
        int? port = null;
        if (portText is not null)
        {
            if (portText.Length is 0 or > 5 || !portText.All(char.IsAsciiDigit)) return false;
            var p = int.Parse(portText);
            if (p is < 1 or > 65535) return false;
            port = p;
        }
        name = new ServerName(value, host, port);
        return true;
    }
}

internal sealed class ServerNameJsonConverter : JsonConverter<ServerName>
{
    public override ServerName Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        ServerName.TryParse(reader.GetString(), out var name) ? name : throw new JsonException("Invalid server name.");

    public override void Write(Utf8JsonWriter writer, ServerName value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}
