using System.Text.Json.Nodes;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Federation;
using Orleans;

namespace Homeserver.Cluster.Federation;

/// <summary>
/// The federation client of a process outside <c>outbound_federation_restricted_to</c>: every request goes through
/// <see cref="IOutboundFederationGrain"/> on one of the listed instances. A request that cannot get there (no listed
/// instance alive) fails as an unreachable destination does, so callers answer it the same way (502, a retry).
/// </summary>
public sealed class ProxiedFederationClient(IGrainFactory grains) : IFederationClient
{
    public async Task<FederationResponse> SendAsync(FederationRequest request, CancellationToken cancellationToken)
    {
        ProxiedFederationResponse answer;
        try
        {
            answer = await grains.GetGrain<IOutboundFederationGrain>(request.Destination).SendAsync(new ProxiedFederationRequest(request.Method.Method,
                request.Destination, request.PathAndQuery, request.Content?.ToJsonString(), request.Signed, request.MaxResponseBytes, request.Timeout),
                cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new FederationRequestException(request.Destination, $"no instance of outbound_federation_restricted_to could make the request: {e.Message}", e);
        }
        if (answer.TransportError is { } error) throw new FederationRequestException(request.Destination, error);
        return new FederationResponse(answer.StatusCode, answer.BodyJson is null ? null : JsonNode.Parse(answer.BodyJson));
    }
}
