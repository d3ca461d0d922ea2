using DnsClient;
using DnsClient.Protocol;
using SrvRecord = Homeserver.Protocol.SrvRecord;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Discovery;

/// <summary>
/// SRV lookups through DnsClient, each answer kept for its records' smallest TTL. A name without records
/// is remembered as RFC 2308 says (the SOA's negative TTL), five minutes when the answer has no SOA. When
/// DNS fails and an earlier answer is known, that answer is used a little longer, as Synapse does, so a
/// flapping resolver does not cut federation with servers already known.
/// </summary>
public sealed class SrvResolver(DnsLookupClient dns, TimeProvider clock, IOptions<FederationTransportOptions> options, FederationTransportLog log)
{
    private static readonly TimeSpan NegativeDefault = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan NegativeMaximum = TimeSpan.FromHours(1);
    private static readonly TimeSpan StaleExtension = TimeSpan.FromMinutes(1);

    private readonly ExpiringCache<string, IReadOnlyList<SrvRecord>> _cache = new(options.Value.CacheCapacity, clock);

    public async Task<Timed<IReadOnlyList<SrvRecord>>> LookupAsync(string name, CancellationToken cancellationToken)
    {
        var known = _cache.GetEntry(name);
        var now = clock.GetUtcNow();
        if (known is not null && known.Expires > now) return new(known.Value, known.Expires);

        IDnsQueryResponse response;
        try
        {
            response = await dns.Client.QueryAsync(name, QueryType.SRV, QueryClass.IN, cancellationToken);
            // As Synapse: a server that does not implement SRV queries has no records to give, and that is not remembered.
            if (response.Header.ResponseCode == DnsHeaderResponseCode.NotImplemented) return new([], now);
            if (response.HasError && response.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
            {
                throw new DnsResponseException((DnsResponseCode)response.Header.ResponseCode, response.ErrorMessage);
            }
        }
        catch (DnsResponseException e) when (known is not null)
        {
            log.SrvKeptStale(name, e.Message);
            return new(known.Value, now + StaleExtension);
        }

        var answers = response.Answers.SrvRecords().ToList();
        IReadOnlyList<SrvRecord> records = answers.Select(r => new SrvRecord(r.Target.Value, r.Port, r.Priority, r.Weight)).ToList();
        var lifetime = answers.Count > 0 ? TimeSpan.FromSeconds(answers.Min(r => r.TimeToLive)) : NegativeLifetime(response);
        if (lifetime > TimeSpan.Zero) _cache.Set(name, records, lifetime);
        return new(records, now + lifetime);
    }

    private static TimeSpan NegativeLifetime(IDnsQueryResponse response) =>
        response.Authorities.SoaRecords().FirstOrDefault() is { } soa
            ? TimeSpan.FromSeconds(Math.Min(Math.Min(soa.TimeToLive, soa.Minimum), NegativeMaximum.TotalSeconds))
            : NegativeDefault;
}
