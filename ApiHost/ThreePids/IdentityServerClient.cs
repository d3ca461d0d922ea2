using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>An identity server's answer: its status and JSON object (empty when it sent none).</summary>
public sealed record IdentityServerResponse(int Status, JsonObject Body)
{
    public bool Ok => Status is >= 200 and < 300;
}

/// <summary>
/// Calls to identity servers that clients name (Identity Service API v2), through the named
/// <see cref="HttpClientName"/> client so the process-wide HTTP client defaults (CA bundle) apply. A
/// client-named server is not trusted: each call is bounded in time and in the size of the answer,
/// and what comes back is parsed as an object or refused, so a hostile server cannot hold a request
/// long, fill memory, or make this server answer with anything but a Matrix error.
/// </summary>
public sealed partial class IdentityServerClient(IHttpClientFactory clients, ProcessSettings settings, ThreePidLog log)
{
    public const string HttpClientName = "identity-server";

    /// <summary>Identity-server answers are small (a token and keys, a few mappings); 64 KiB is far above any real one.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The base URL of an <c>id_server</c> (a server name: host and optional port), over https as Synapse always uses.</summary>
    public Uri BaseUrl(string idServer) =>
        new($"{(settings.ThreePids.IdentityServerPlainHttp ? "http" : "https")}://{ThreePidInput.IdServer(idServer)}/");

    public Task<IdentityServerResponse> GetAsync(string idServer, string path, string accessToken, CancellationToken cancellationToken) =>
        SendAsync(idServer, HttpMethod.Get, path, null, new AuthenticationHeaderValue("Bearer", accessToken), cancellationToken);

    public Task<IdentityServerResponse> PostAsync(string idServer, string path, JsonObject body, AuthenticationHeaderValue? authorization,
        CancellationToken cancellationToken) =>
        SendAsync(idServer, HttpMethod.Post, path, body, authorization, cancellationToken);

    /// <summary>
    /// The identity server's error, passed on to the client as Synapse does (its status and errcode),
    /// when it is a well-formed Matrix error of a client fault; anything else is the server's failure.
    /// </summary>
    public MatrixException Relay(string idServer, string path, IdentityServerResponse response)
    {
        log.IdentityServerFailed(idServer, path, $"HTTP {response.Status}");
        if (response.Status is >= 400 and < 500 && response.Body["errcode"] is JsonValue code && code.TryGetValue<string>(out var errCode) &&
            ErrCode().IsMatch(errCode))
        {
            var error = response.Body["error"] is JsonValue e && e.TryGetValue<string>(out var text) ? text : "The identity server refused the request.";
            return new MatrixException(response.Status, errCode, error.Length > 500 ? error[..500] : error);
        }
        return new MatrixException(502, "M_UNKNOWN", $"The identity server answered HTTP {response.Status}.");
    }

    /// <summary>
    /// A GET of a URL an identity server published (a <c>key_validity_url</c>), with its query. Only
    /// http(s) URLs are fetched; anything else is a failure to check, as an unreachable server is.
    /// </summary>
    public Task<IdentityServerResponse> GetPublishedUrlAsync(string url, string query, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("https" or "http") || parsed.Query.Length > 0)
        {
            throw Failure(url, "", "a URL that is not an http(s) URL without a query");
        }
        return SendAsync(new Uri(parsed, parsed.AbsolutePath + "?" + query), parsed.Authority, parsed.AbsolutePath, HttpMethod.Get, null, null,
            cancellationToken);
    }

    private Task<IdentityServerResponse> SendAsync(string idServer, HttpMethod method, string path, JsonObject? body,
        AuthenticationHeaderValue? authorization, CancellationToken cancellationToken) =>
        SendAsync(new Uri(BaseUrl(idServer), path), idServer, path, method, body, authorization, cancellationToken);

    private async Task<IdentityServerResponse> SendAsync(Uri url, string idServer, string path, HttpMethod method, JsonObject? body,
        AuthenticationHeaderValue? authorization, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, url);
        if (authorization is not null) request.Headers.Authorization = authorization;
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(Timeout);
        var client = clients.CreateClient(HttpClientName);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bounded.Token);
            var bytes = await ReadBoundedAsync(response.Content, bounded.Token)
                ?? throw Failure(idServer, path, $"an answer over {MaxResponseBytes} bytes");
            JsonObject? parsed = null;
            if (bytes.Length > 0)
            {
                try
                {
                    parsed = JsonNode.Parse(bytes) as JsonObject;
                }
                catch (JsonException)
                {
                    // Not JSON: only a failure if the status said success (an error page is still an error).
                }
            }
            if (parsed is null && response.IsSuccessStatusCode) throw Failure(idServer, path, "an answer that is not a JSON object");
            return new IdentityServerResponse((int)response.StatusCode, parsed ?? []);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            log.IdentityServerFailed(idServer, path, "timed out");
            throw new MatrixException(504, "M_UNKNOWN", "Timed out contacting the identity server.");
        }
        catch (HttpRequestException e)
        {
            throw Failure(idServer, path, e.Message);
        }
    }

    private MatrixException Failure(string idServer, string path, string reason)
    {
        log.IdentityServerFailed(idServer, path, reason);
        return new MatrixException(502, "M_UNKNOWN", "The identity server could not be reached or gave an invalid answer.");
    }

    /// <summary>The body, or null when it is longer than <see cref="MaxResponseBytes"/> (read no further than that).</summary>
    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > MaxResponseBytes) return null;
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxResponseBytes + 1];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0) break;
            total += read;
        }
        return total > MaxResponseBytes ? null : buffer[..total];
    }

    [GeneratedRegex("^M_[A-Z_]{1,64}$")]
    private static partial Regex ErrCode();
}
