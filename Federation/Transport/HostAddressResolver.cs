using System.Net;
using System.Net.Sockets;
using DnsClient;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Transport;

/// <summary>The addresses (AAAA and A) of a host name; every one is checked against the IP limits before a connection.</summary>
public interface IHostAddressResolver
{
    /// <summary>The addresses of <paramref name="host"/>, empty when it has none; throws <see cref="SocketException"/> or <see cref="DnsResponseException"/> when DNS fails.</summary>
    Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>
/// The operating system's resolver (hosts file, nsswitch, its cache) unless name servers are configured,
/// then DnsClient asking those: one set of servers answers SRV and addresses alike.
/// </summary>
public sealed class HostAddressResolver(IOptions<FederationTransportOptions> options, DnsLookupClient dns) : IHostAddressResolver
{
    public async Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (options.Value.NameServers is null)
        {
            try
            {
                return await Dns.GetHostAddressesAsync(host, cancellationToken);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
            {
                return [];
            }
        }
        var client = dns.Client;
        var v6 = client.QueryAsync(host, QueryType.AAAA, QueryClass.IN, cancellationToken);
        var v4 = client.QueryAsync(host, QueryType.A, QueryClass.IN, cancellationToken);
        var answers = await Task.WhenAll(v6, v4);
        foreach (var answer in answers)
        {
            if (answer.HasError && answer.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
            {
                throw new DnsResponseException((DnsResponseCode)answer.Header.ResponseCode, answer.ErrorMessage);
            }
        }
        return [.. answers[0].Answers.AaaaRecords().Select(r => r.Address), .. answers[1].Answers.ARecords().Select(r => r.Address)];
    }
}

/// <summary>The one DnsClient <see cref="LookupClient"/> of the process, made at first use so a machine without resolv.conf starts anyway.</summary>
public sealed class DnsLookupClient(IOptions<FederationTransportOptions> options)
{
    private readonly Lazy<LookupClient> _client = new(() =>
    {
        var o = options.Value;
        var settings = o.NameServers is { } servers ? new LookupClientOptions([.. servers]) : new LookupClientOptions();
        // Our caches keep answers for their TTLs on the injected clock; DnsClient's own would keep them on the wall clock too.
        settings.UseCache = false;
        settings.Timeout = o.DnsTimeout;
        settings.Retries = 2;
        settings.ThrowDnsErrors = false;
        settings.ContinueOnDnsError = false;
        settings.UseTcpFallback = true;
        return new LookupClient(settings);
    });

    public LookupClient Client => _client.Value;
}
