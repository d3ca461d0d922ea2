using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Bench.Federation;

/// <summary>A request to the server under test as another homeserver makes it: X-Matrix signed by its origin.</summary>
public sealed record SignedRequest(HttpMethod Method, string Uri, string Authorization, byte[]? Body)
{
    public static SignedRequest Create(HttpMethod method, string uri, FakeOrigin origin, string destination, JsonNode? content) =>
        new(method, uri, XMatrixAuthorization.Sign(method.Method, uri, origin.ServerName, destination, content, origin.Key).ToHeaderValue(),
            content is null ? null : Encoding.UTF8.GetBytes(content.ToJsonString()));
}

/// <summary>Server-server API calls to the server under test, from any of Bench's fake origins.</summary>
public sealed class FederationHttp(Uri federation, HttpMessageHandler handler)
{
    private readonly HttpClient _http = new(handler, disposeHandler: false) { BaseAddress = federation, Timeout = TimeSpan.FromSeconds(120) };

    public async Task<(int Status, JsonNode? Body)> SendAsync(SignedRequest request, CancellationToken cancellationToken = default)
    {
        using var message = new HttpRequestMessage(request.Method, request.Uri);
        message.Headers.TryAddWithoutValidation("Authorization", request.Authorization);
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(request.Body);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        using var response = await _http.SendAsync(message, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return ((int)response.StatusCode, bytes.Length == 0 ? null : JsonNode.Parse(bytes));
    }

    /// <summary>A request that must succeed (setup): its body, or an exception saying what the server answered.</summary>
    public async Task<JsonNode> RequireAsync(SignedRequest request)
    {
        var (status, body) = await SendAsync(request);
        if (status != 200 || body is null) throw new InvalidOperationException($"{request.Method} {request.Uri} failed with {status}: {body?.ToJsonString()}");
        return body;
    }

    /// <summary>The server's name, from its own key answer (<c>GET /_matrix/key/v2/server</c>, unsigned).</summary>
    public async Task<string> ServerNameAsync()
    {
        var answer = JsonNode.Parse(await _http.GetStringAsync("/_matrix/key/v2/server"))!;
        return answer["server_name"]!.GetValue<string>();
    }
}
