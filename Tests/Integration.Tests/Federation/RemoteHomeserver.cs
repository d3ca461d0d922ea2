using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Another homeserver as the federation client meets it: Kestrel over HTTPS on 127.0.0.1 with the given
/// certificate, recording every request (with the SNI it came with), answering
/// <c>/.well-known/matrix/server</c> per Host from a table, and a few special paths.
/// </summary>
public sealed class RemoteHomeserver : IAsyncDisposable
{
    public const string HugePath = "/_matrix/test/huge";
    public const string HugeDeclaredPath = "/_matrix/test/huge-declared";
    public const string SilentPath = "/_matrix/test/silent";

    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private readonly ConcurrentDictionary<string, WellKnownAnswer> _wellKnown = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _wellKnownFetches = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _sni = new();
    private readonly ConcurrentDictionary<(string Host, string Path), Func<HttpContext, Task>> _handlers = new();
    private readonly ConcurrentDictionary<(string Host, string Prefix), Func<HttpContext, Task>> _prefixHandlers = new();
    private long _hugeBytesWritten;
    private WebApplication _app = null!;

    public sealed record ReceivedRequest(string Method, string PathAndQuery, string Host, string? Authorization, string? ContentType,
        byte[] Body, string? Sni);

    /// <summary>An answer to /.well-known/matrix/server: a status, a body, optional headers (Cache-Control, Location).</summary>
    public sealed record WellKnownAnswer(int Status, string Body, IReadOnlyDictionary<string, string>? Headers = null);

    public int Port { get; private set; }

    public IReadOnlyList<ReceivedRequest> Requests => [.. _requests];

    public long HugeBytesWritten => Interlocked.Read(ref _hugeBytesWritten);

    public void SetWellKnown(string host, WellKnownAnswer answer) => _wellKnown[host] = answer;

    /// <summary>Answers <paramref name="path"/> for requests whose Host header is <paramref name="host"/> (a server name with its port).</summary>
    public void Handle(string host, string path, Func<HttpContext, Task> handler) => _handlers[(host.ToLowerInvariant(), path)] = handler;

    /// <summary>Answers every path starting with <paramref name="prefix"/> (a transaction ID follows it, say) for <paramref name="host"/>.</summary>
    public void HandlePrefix(string host, string prefix, Func<HttpContext, Task> handler) => _prefixHandlers[(host.ToLowerInvariant(), prefix)] = handler;

    public int RequestCount(string host, string path) =>
        _requests.Count(r => string.Equals(r.Host, host, StringComparison.OrdinalIgnoreCase) && r.PathAndQuery.Split('?')[0] == path);

    public int WellKnownFetches(string host) => _wellKnownFetches.GetValueOrDefault(host);

    public static async Task<RemoteHomeserver> StartAsync(X509Certificate2 certificate)
    {
        var remote = new RemoteHomeserver { Port = LoopbackPorts.Free() };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, remote.Port, listen => listen.UseHttps(https =>
            https.ServerCertificateSelector = (connection, sni) =>
            {
                if (connection is not null && sni is not null) remote._sni[connection.ConnectionId] = sni;
                return certificate;
            })));
        remote._app = builder.Build();
        remote._app.Run(remote.HandleAsync);
        await remote._app.StartAsync();
        return remote;
    }

    private async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var host = request.Host.Host;
        if (request.Path == "/.well-known/matrix/server")
        {
            _wellKnownFetches.AddOrUpdate(host, 1, (_, n) => n + 1);
            var answer = _wellKnown.TryGetValue(host, out var a) ? a : new WellKnownAnswer(404, "{}");
            http.Response.StatusCode = answer.Status;
            foreach (var (name, value) in answer.Headers ?? new Dictionary<string, string>()) http.Response.Headers[name] = value;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(answer.Body);
            return;
        }

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        _requests.Enqueue(new ReceivedRequest(request.Method, request.Path + request.QueryString, request.Headers.Host.ToString(),
            request.Headers.Authorization.FirstOrDefault(), request.ContentType, body.ToArray(),
            _sni.GetValueOrDefault(http.Connection.Id)));

        if (_handlers.TryGetValue((request.Headers.Host.ToString().ToLowerInvariant(), request.Path.Value ?? ""), out var handler))
        {
            // The handler reads the body as recorded.
            request.Body = new MemoryStream(body.ToArray());
            await handler(http);
            return;
        }
        var prefixed = _prefixHandlers.FirstOrDefault(h => h.Key.Host == request.Headers.Host.ToString().ToLowerInvariant() &&
            (request.Path.Value ?? "").StartsWith(h.Key.Prefix, StringComparison.Ordinal)).Value;
        if (prefixed is not null)
        {
            request.Body = new MemoryStream(body.ToArray());
            await prefixed(http);
            return;
        }
        if (request.Path == SilentPath)
        {
            // Never answers: the client's timeout must end the request.
            await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }
        if (request.Path == HugePath || request.Path == HugeDeclaredPath)
        {
            // Endless unless the client stops reading: a client that buffered everything would never return.
            if (request.Path == HugeDeclaredPath) http.Response.ContentLength = 1L << 40;
            http.Response.ContentType = "application/json";
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)' ');
            try
            {
                while (!http.RequestAborted.IsCancellationRequested)
                {
                    await http.Response.Body.WriteAsync(chunk, http.RequestAborted);
                    Interlocked.Add(ref _hugeBytesWritten, chunk.Length);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
            return;
        }
        await http.Response.WriteAsJsonAsync(new { ok = true, path = request.Path.Value });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
