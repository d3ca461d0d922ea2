using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Discovery;
using Homeserver.Federation.Keys;
using Homeserver.Protocol;
using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Transport;

/// <summary>
/// Requests to other homeservers. A request is refused before any I/O when the domain whitelist does not
/// name its destination; otherwise its targets come from server discovery and are tried in order until
/// one connects, each connection made by <see cref="FederationConnector"/> (IP limits after DNS, TLS
/// checked against the target's certificate name). Once a connection carries the request no other
/// target is tried: the first may have acted on it.
/// <para>
/// The handler speaks plain HTTP over the TLS stream the connector returns, so that SNI, the certificate
/// name and the address connected to are ours to choose rather than the URI's. Pooled connections are
/// keyed by a digest of the target, so a connection verified for one certificate name is never reused
/// for another.
/// </para>
/// </summary>
public sealed class FederationClient : IFederationClient, IDisposable
{
    private static readonly HttpRequestOptionsKey<FederationTarget> TargetOption = new("homeserver.federation-target");
    private static readonly ProductInfoHeaderValue UserAgent = new("Homeserver", "1.0");

    private readonly FederationClientOptions _limits;
    private readonly FederationTargetResolver _targets;
    private readonly ServerSigningKeys _keys;
    private readonly ProcessSettings _settings;
    private readonly IOptions<FederationTransportOptions> _options;
    private readonly FederationTransportLog _log;
    private readonly HttpMessageInvoker _http;

    public FederationClient(FederationClientOptions limits, FederationTargetResolver targets, FederationConnector connector, ServerSigningKeys keys,
        ProcessSettings settings, IOptions<FederationTransportOptions> options, FederationTransportLog log)
    {
        _limits = limits;
        _targets = targets;
        _keys = keys;
        _settings = settings;
        _options = options;
        _log = log;
        _http = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
                await connector.ConnectTlsAsync(context.InitialRequestMessage.Options.TryGetValue(TargetOption, out var target)
                    ? target
                    : throw new InvalidOperationException("A federation request without its target."), token),
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            // Idle connections follow DNS changes within minutes, as a fresh lookup would.
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        });
    }

    public async Task<FederationResponse> SendAsync(FederationRequest request, CancellationToken cancellationToken)
    {
        var destination = request.Destination;
        if (!request.PathAndQuery.StartsWith('/')) throw new ArgumentException("The path must start with '/'.", nameof(request));
        if (!_limits.IsDestinationAllowed(destination))
        {
            _log.DestinationNotWhitelisted(destination);
            throw new FederationRequestException(destination, "the destination is not in federation_domain_whitelist");
        }
        if (!ServerName.TryParse(destination, out var serverName)) throw new FederationRequestException(destination, "the destination is not a server name");

        var limit = request.MaxResponseBytes ?? _options.Value.MaxResponseBytes;
        var timeoutAfter = request.Timeout ?? _limits.ClientTimeout;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(timeoutAfter);
        try
        {
            var targets = await _targets.ResolveAsync(serverName, timeout.Token);
            if (targets.Count == 0) throw new FederationRequestException(destination, "its SRV records say it offers no federation service");
            var body = request.Content is null ? null : CanonicalJson.Encode(request.Content);
            var authorization = request.Signed
                ? XMatrixAuthorization.Sign(request.Method.Method, request.PathAndQuery, _settings.ServerName, destination, request.Content,
                    await _keys.CurrentAsync(timeout.Token)).ToHeaderValue()
                : null;

            var failures = new List<FederationConnectException>();
            foreach (var target in targets)
            {
                using var message = Message(request, target, body, authorization);
                HttpResponseMessage response;
                try
                {
                    response = await _http.SendAsync(message, timeout.Token);
                }
                catch (HttpRequestException e) when (e.InnerException is FederationConnectException connect)
                {
                    _log.TargetUnreachable(destination, target.ConnectHost, target.Port, connect.Message);
                    failures.Add(connect);
                    continue;
                }
                using (response) return await ReadAsync(response, destination, limit, timeout.Token);
            }
            _targets.Forget(serverName);
            throw Failed(destination, $"no target could be connected: {string.Join("; ", failures.Select(f => f.Message))}",
                failures.Count == 1 ? failures[0] : new AggregateException(failures));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw Failed(destination, $"no answer within {timeoutAfter.TotalSeconds:0.#} s", e);
        }
        catch (Exception e) when (e is not (FederationRequestException or OperationCanceledException))
        {
            // Whatever the network, DNS or TLS stack threw (HttpRequestException, SocketException, DnsResponseException, IOException...):
            // callers handle one failure type, with the cause kept inside.
            throw Failed(destination, e.InnerException is FederationConnectException c ? c.Message : e.Message, e);
        }
    }

    private FederationRequestException Failed(string destination, string reason, Exception inner)
    {
        _log.RequestFailed(destination, reason);
        return new FederationRequestException(destination, reason, inner);
    }

    private static HttpRequestMessage Message(FederationRequest request, FederationTarget target, byte[]? body, string? authorization)
    {
        var message = new HttpRequestMessage(request.Method, new Uri($"http://{PoolKey(target)}:{target.Port}{request.PathAndQuery}"))
        {
            Version = System.Net.HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Headers.Host = target.HostHeader;
        message.Headers.UserAgent.Add(UserAgent);
        if (authorization is not null) message.Headers.TryAddWithoutValidation("Authorization", authorization);
        if (body is not null)
        {
            message.Content = new ByteArrayContent(body);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        message.Options.Set(TargetOption, target);
        return message;
    }

    private async Task<FederationResponse> ReadAsync(HttpResponseMessage response, string destination, long limit, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is { } declared && declared > limit)
        {
            throw Failed(destination, $"the response of {declared} bytes is larger than the {limit} allowed", new InvalidDataException());
        }
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw Failed(destination, $"the response is larger than the {limit} bytes allowed", new InvalidDataException());
            }
            buffer.Write(chunk, 0, read);
        }
        return new FederationResponse((int)response.StatusCode, Parse(buffer));
    }

    private static JsonNode? Parse(MemoryStream body)
    {
        if (body.Length == 0) return null;
        try
        {
            return JsonNode.Parse(body.GetBuffer().AsSpan(0, (int)body.Length));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A host label unique to the target: what SocketsHttpHandler pools connections by.</summary>
    private static string PoolKey(FederationTarget target) =>
        "t" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{target.ConnectHost}\n{target.Port}\n{target.CertificateName}")))[..40] + ".invalid";

    public void Dispose() => _http.Dispose();
}
