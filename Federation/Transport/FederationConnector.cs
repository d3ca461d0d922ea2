using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DnsClient;
using Homeserver.Configuration;
using Homeserver.Protocol;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Transport;

/// <summary>
/// Opens connections to other homeservers within the configured limits. The IP check runs here, after
/// DNS and on every address a name resolves to, never on the name: a server name, well-known answer or
/// SRV target that resolves to 127.0.0.1 or 10.0.0.1 is refused like the literal would be, and the
/// socket connects to exactly the address that was checked (no second lookup to race against).
/// </summary>
public sealed class FederationConnector(FederationClientOptions limits, OutboundHttpOptions trust, IHostAddressResolver resolver,
    IOptions<FederationTransportOptions> options, FederationTransportLog log)
{
    private readonly X509ChainPolicy? _chainPolicy = ChainPolicy(trust);

    /// <summary>A TCP connection to <paramref name="host"/> (a name, an IPv4 literal or a bracketed IPv6 one) on <paramref name="port"/>.</summary>
    public async Task<NetworkStream> ConnectTcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        var addresses = await AddressesAsync(host, cancellationToken);
        var allowed = new List<IPAddress>();
        foreach (var address in addresses)
        {
            if (limits.IsAddressAllowed(address)) allowed.Add(address);
            else log.AddressRefused(host, address.ToString());
        }
        if (allowed.Count == 0)
        {
            throw new FederationConnectException(
                $"{host} resolves only to addresses that ip_range_blacklist refuses ({string.Join(", ", addresses)})", refused: true);
        }

        var (stream, failures) = await TcpConnections.ConnectFirstAsync(allowed, port, options.Value.ConnectTimeout, cancellationToken);
        if (stream is not null) return stream;
        throw new FederationConnectException($"{host}:{port} cannot be connected ({string.Join(", ", failures)})");
    }

    /// <summary>A TLS connection to the target, its certificate checked against <see cref="FederationTarget.CertificateName"/> (sent as SNI too).</summary>
    public async Task<Stream> ConnectTlsAsync(FederationTarget target, CancellationToken cancellationToken)
    {
        var tcp = await ConnectTcpAsync(target.ConnectHost, target.Port, cancellationToken);
        var tls = new SslStream(tcp, leaveInnerStreamOpen: false);
        try
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(options.Value.ConnectTimeout);
            await tls.AuthenticateAsClientAsync(ClientOptions(Unbracketed(target.CertificateName)), attempt.Token);
            return tls;
        }
        catch (Exception e) when (e is AuthenticationException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await tls.DisposeAsync();
            var reason = e is OperationCanceledException ? "timed out" : e.Message;
            throw new FederationConnectException($"TLS with {target.ConnectHost}:{target.Port} as {target.CertificateName} failed: {reason}", inner: e);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// TLS options for a server that must prove it is <paramref name="name"/> (null: the host of the URI, as
    /// SocketsHttpHandler fills it in), checked as the configuration says.
    /// </summary>
    public SslClientAuthenticationOptions ClientOptions(string? name)
    {
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = name,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            CertificateChainPolicy = _chainPolicy?.Clone(),
        };
        if (!limits.VerifyCertificates) tls.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        return tls;
    }

    private async Task<IReadOnlyList<IPAddress>> AddressesAsync(string host, CancellationToken cancellationToken)
    {
        if (IsIpLiteral(host)) return [IPAddress.Parse(Unbracketed(host))];
        IReadOnlyList<IPAddress> addresses;
        try
        {
            addresses = await resolver.ResolveAsync(host, cancellationToken);
        }
        catch (Exception e) when (e is SocketException or DnsResponseException)
        {
            throw new FederationConnectException($"{host} cannot be resolved: {e.Message}", inner: e);
        }
        return addresses.Count > 0 ? addresses : throw new FederationConnectException($"{host} has no A or AAAA records");
    }

    /// <summary>The same grammar as server discovery's: a bracketed IPv6 literal or a dotted quad, never "10" or "0x7f.1" as IPAddress would take them.</summary>
    internal static bool IsIpLiteral(string host) =>
        (host.Contains(':') && IPAddress.TryParse(host, out _)) ||
        (host.StartsWith('[') && host.EndsWith(']') && IPAddress.TryParse(host[1..^1], out _)) ||
        (host.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit)) && IPAddress.TryParse(host, out _));

    private static string Unbracketed(string host) => host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;

    private static X509ChainPolicy? ChainPolicy(OutboundHttpOptions trust)
    {
        if (trust.CustomCertificateAuthorities is not { } roots) return null;
        // As for every outbound client (OutboundHttpServiceCollectionExtensions): these roots only, no revocation fetch.
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }
}
