using System.Text.Json.Nodes;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Grains.Placement;
using Orleans;
using Orleans.Concurrency;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Makes the federation requests of processes outside <c>outbound_federation_restricted_to</c>, on one of the
/// instances it lists. Reentrant: it holds nothing, and one slow destination request must not queue the next.
/// </summary>
[WriterPlacement(WriterPlacementAttribute.OutboundFederationRole)]
[Reentrant]
public sealed class OutboundFederationGrain(IFederationClient client) : Grain, IOutboundFederationGrain
{
    public async Task<ProxiedFederationResponse> SendAsync(ProxiedFederationRequest request, CancellationToken cancellationToken)
    {
        var content = request.ContentJson is null ? null : JsonNode.Parse(request.ContentJson) as JsonObject;
        try
        {
            var response = await client.SendAsync(new FederationRequest(new HttpMethod(request.Method), request.Destination, request.PathAndQuery, content,
                request.Signed)
            {
                MaxResponseBytes = request.MaxResponseBytes,
                Timeout = request.Timeout,
            }, cancellationToken);
            return new ProxiedFederationResponse(response.StatusCode, response.Body?.ToJsonString(), null);
        }
        catch (FederationRequestException e)
        {
            return new ProxiedFederationResponse(0, null, e.Message);
        }
    }
}
