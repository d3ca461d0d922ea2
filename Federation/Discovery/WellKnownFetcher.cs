using System.Text.Json;
using System.Text.Json.Nodes;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Discovery;

/// <summary>
/// GETs <c>https://{host}/.well-known/matrix/server</c> the way the spec and Synapse do: redirects followed
/// (a few, HTTPS only), a body of at most 50 KiB, a short timeout, and every connection through the same
/// IP limits as federation itself, so delegation cannot be used to reach a private address.
/// </summary>
public sealed class WellKnownFetcher : IDisposable
{
    public const int MaxBodyBytes = 50 * 1024;
    public const int MaxRedirects = 5;

    private readonly HttpMessageInvoker _http;
    private readonly IOptions<FederationTransportOptions> _options;
    private readonly TimeProvider _clock;

    public WellKnownFetcher(FederationConnector connector, IOptions<FederationTransportOptions> options, TimeProvider clock)
    {
        _options = options;
        _clock = clock;
        _http = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) => await connector.ConnectTcpAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, token),
            SslOptions = connector.ClientOptions(null),
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        });
    }

    public async Task<WellKnownFetch> FetchAsync(string host, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Value.WellKnownTimeout);
        var uri = new UriBuilder(Uri.UriSchemeHttps, host, _options.Value.WellKnownPort, "/.well-known/matrix/server").Uri;
        try
        {
            for (var redirects = 0; ; redirects++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                using var response = await _http.SendAsync(request, timeout.Token);
                if (CacheHeaders.IsRedirect(response))
                {
                    if (redirects == MaxRedirects) return WellKnownFetch.Temporary($"more than {MaxRedirects} redirects");
                    uri = new Uri(uri, response.Headers.Location!);
                    if (uri.Scheme != Uri.UriSchemeHttps) return WellKnownFetch.Permanent($"redirected to {uri.Scheme}, not https");
                    continue;
                }
                var body = await ReadCappedAsync(response.Content, timeout.Token);
                var status = (int)response.StatusCode;
                if (body is null) return WellKnownFetch.Temporary($"the body is larger than {MaxBodyBytes} bytes");
                if (status is >= 500 and < 600) return WellKnownFetch.Temporary($"status {status}");
                if (status != 200) return WellKnownFetch.Permanent($"status {status}");
                JsonNode? json;
                try
                {
                    json = JsonNode.Parse(body);
                }
                catch (JsonException)
                {
                    return WellKnownFetch.Permanent("the body is not JSON");
                }
                return ServerDiscovery.ParseWellKnown(json) is { } server
                    ? WellKnownFetch.Valid(server.Value, CacheHeaders.Period(response, _clock.GetUtcNow()))
                    : WellKnownFetch.Permanent("the body has no valid m.server");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WellKnownFetch.Temporary("timed out");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // No answer (connection refused by the IP limits, TLS, a broken stream): Synapse counts every such failure as temporary.
            return WellKnownFetch.Temporary(e.InnerException is FederationConnectException c ? c.Message : e.Message);
        }
    }

    /// <summary>The body, or null when it is longer than <see cref="MaxBodyBytes"/> (read no further than that).</summary>
    private static async Task<byte[]?> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > MaxBodyBytes) return null;
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0) length += read;
        return length > MaxBodyBytes ? null : buffer[..length];
    }

    public void Dispose() => _http.Dispose();
}
