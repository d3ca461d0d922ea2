using System.Net;
using Homeserver.Configuration;
using Homeserver.Federation.Transport;

namespace Homeserver.Cluster.Http;

/// <summary>
/// Opens the TCP connection of an outbound HTTP request only to an address <see cref="OutboundHttpOptions"/>
/// allows, checked after DNS on every address the name resolves to, as Synapse's blocklisting agent does:
/// a push gateway or identity server named <c>internal.example</c> that resolves to 10.0.0.1 is refused
/// like the literal would be.
/// </summary>
public static class AddressCheckingConnector
{
    public static async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, OutboundHttpOptions options, CancellationToken cancellationToken)
    {
        var host = endPoint.Host.StartsWith('[') && endPoint.Host.EndsWith(']') ? endPoint.Host[1..^1] : endPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(options.IsAddressAllowed).ToList();
        if (allowed.Count == 0)
        {
            throw new HttpRequestException(addresses.Length == 0
                ? $"{host} has no addresses"
                : $"{host} resolves only to addresses that ip_range_blacklist refuses ({string.Join(", ", addresses.Select(a => a.ToString()))})");
        }
        // No limit per address here: the HttpClient's own timeout bounds the whole request.
        var (stream, failures) = await TcpConnections.ConnectFirstAsync(allowed, endPoint.Port, Timeout.InfiniteTimeSpan, cancellationToken);
        return stream ?? throw new HttpRequestException($"{host}:{endPoint.Port} cannot be connected ({string.Join(", ", failures)})");
    }
}
