using System.Text.Json.Nodes;

namespace Homeserver.Federation.Transport;

/// <summary>
/// One server-server request: to <see cref="Destination"/> (a server name), for <see cref="PathAndQuery"/>
/// (starting <c>/_matrix/</c>, already percent-encoded), with an optional JSON body. Signed with
/// X-Matrix unless <see cref="Signed"/> is false (only key fetches may go unsigned).
/// </summary>
public sealed record FederationRequest(HttpMethod Method, string Destination, string PathAndQuery, JsonObject? Content = null,
    bool Signed = true)
{
    /// <summary>The longest response body to accept; null takes the transport's (10 MiB unless configured otherwise).</summary>
    public long? MaxResponseBytes { get; init; }

    /// <summary>How long the request may take, discovery and connection included; null takes <c>federation.client_timeout</c>.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>
/// The answer of a remote server: its status and its JSON body (null when it sent none or none that
/// parses as JSON). A transport failure (no route, refused destination, TLS, timeout) is an exception,
/// <see cref="FederationRequestException"/>, never a response.
/// </summary>
public sealed record FederationResponse(int StatusCode, JsonNode? Body)
{
    public bool IsSuccess => StatusCode is >= 200 and < 300;
}

/// <summary>Why a request never got an answer: the destination is not allowed, could not be found or reached, or answered too much.</summary>
public sealed class FederationRequestException(string destination, string message, Exception? inner = null)
    : Exception($"{destination}: {message}", inner)
{
    public string Destination { get; } = destination;
}

/// <summary>Sends requests to other homeservers, found by server discovery, within the configured limits.</summary>
public interface IFederationClient
{
    Task<FederationResponse> SendAsync(FederationRequest request, CancellationToken cancellationToken);
}
