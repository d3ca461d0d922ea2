using Orleans;

namespace Homeserver.Grains.Interfaces.Federation;

/// <summary>A federation request made for a process that may not reach other servers itself; JSON as text.</summary>
[GenerateSerializer, Immutable, Alias("ProxiedFederationRequest")]
public sealed record ProxiedFederationRequest(
    [property: Id(0)] string Method,
    [property: Id(1)] string Destination,
    [property: Id(2)] string PathAndQuery,
    [property: Id(3)] string? ContentJson,
    [property: Id(4)] bool Signed,
    [property: Id(5)] long? MaxResponseBytes,
    [property: Id(6)] TimeSpan? Timeout);

/// <summary>The remote's answer (status and JSON body, as text), or why there was none (<see cref="TransportError"/>).</summary>
[GenerateSerializer, Immutable, Alias("ProxiedFederationResponse")]
public sealed record ProxiedFederationResponse([property: Id(0)] int StatusCode, [property: Id(1)] string? BodyJson, [property: Id(2)] string? TransportError);

/// <summary>
/// Synapse's <c>outbound_federation_restricted_to</c>: the processes that may reach other servers make the requests of
/// those that may not (API hosts, other silos), so a firewall can let only them out. Key: the destination, so one
/// destination's requests leave through one instance while it lives.
/// </summary>
[Alias("IOutboundFederationGrain")]
public interface IOutboundFederationGrain : IGrainWithStringKey
{
    /// <summary>A send_join answer may take the federation client's whole timeout and more to read; the call waits as long.</summary>
    [ResponseTimeout("00:03:00")]
    Task<ProxiedFederationResponse> SendAsync(ProxiedFederationRequest request, CancellationToken cancellationToken = default);
}
