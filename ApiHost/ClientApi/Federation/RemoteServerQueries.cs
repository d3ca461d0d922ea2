using System.Text.Json.Nodes;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Microsoft.Extensions.Logging;

namespace Homeserver.ApiHost.ClientApi.Federation;

/// <summary>
/// Client requests that another server answers: a profile, an alias, a room directory. As Synapse does, a
/// server that cannot be reached, or answers with no JSON object or with a server error, is 502 to the client
/// (never a 500, and never longer than the federation client's timeout); its 4xx Matrix errors that the
/// client API knows are passed on by each caller.
/// </summary>
public sealed partial class RemoteServerQueries(IFederationClient client, ILogger<RemoteServerQueries> logger)
{
    /// <summary>The remote's answer: a success with a JSON object, or a 4xx; anything else is 502 with <paramref name="failure"/>.</summary>
    public async Task<FederationResponse> SendAsync(FederationRequest request, string failure, CancellationToken cancellationToken)
    {
        FederationResponse response;
        try
        {
            response = await client.SendAsync(request, cancellationToken);
        }
        catch (FederationRequestException e)
        {
            Failed(request.Destination, request.PathAndQuery.Split('?')[0], e.Message);
            throw BadGateway(failure);
        }
        if (response.StatusCode is >= 400 and < 500) return response;
        if (!response.IsSuccess || response.Body is not JsonObject)
        {
            Failed(request.Destination, request.PathAndQuery.Split('?')[0], response.IsSuccess ? "the answer is not a JSON object" : $"HTTP {response.StatusCode}");
            throw BadGateway(failure);
        }
        return response;
    }

    /// <summary>
    /// An alias of another server, asked of that server (<c>/query/directory</c>) as Synapse asks: its 404, or an
    /// answer without a room ID and servers, is 404; any other failure is 502. The servers are those the answer names.
    /// </summary>
    public async Task<(string RoomId, IReadOnlyList<string> Servers)> ResolveAliasAsync(string server, string alias, CancellationToken cancellationToken)
    {
        var response = await SendAsync(new FederationRequest(HttpMethod.Get, server,
            $"/_matrix/federation/v1/query/directory?room_alias={Uri.EscapeDataString(alias)}"), "Failed to fetch alias", cancellationToken);
        if (response.StatusCode == 404) throw MatrixException.NotFound($"Room alias {alias} not found.");
        if (!response.IsSuccess) throw BadGateway("Failed to fetch alias");
        var body = response.Body!.AsObject();
        if (body["room_id"] is not JsonValue id || !id.TryGetValue<string>(out var roomId) || !RoomId.TryParse(roomId, out _) ||
            body["servers"] is not JsonArray servers)
        {
            throw MatrixException.NotFound($"Room alias {alias} not found.");
        }
        return (roomId, [.. servers.Select(s => s is JsonValue v && v.TryGetValue<string>(out var name) ? name : null).OfType<string>()]);
    }

    /// <summary>The remote's Matrix error as the client sees it (Synapse's <c>to_synapse_error</c>): its status and errcode.</summary>
    public static MatrixException Relayed(FederationResponse response, string fallback) => new(response.StatusCode,
        response.Body?["errcode"] is JsonValue c && c.TryGetValue<string>(out var errcode) ? errcode : "M_UNKNOWN",
        response.Body?["error"] is JsonValue m && m.TryGetValue<string>(out var error) ? error : fallback);

    public static MatrixException BadGateway(string failure) => new(502, "M_UNKNOWN", failure);

    [LoggerMessage(EventId = 5701, Level = LogLevel.Information, Message = "Asking {Destination} for {Path} on behalf of a client failed: {Reason}")]
    private partial void Failed(string destination, string path, string reason);
}
