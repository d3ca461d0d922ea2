using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Homeserver.Bench.Federation;

/// <summary>One homeserver Bench plays: its name (<c>127.0.0.1:port</c>), its Ed25519 signing key and its user.</summary>
public sealed record FakeOrigin(string ServerName, SigningKey Key)
{
    public string User => $"@bench:{ServerName}";
}

/// <summary>
/// Several remote homeservers in one Kestrel, each on a loopback port of its own over HTTPS, so the server
/// under test sees several origins as it would in the wild. Each answers what a homeserver receiving
/// traffic from us must: its signed key (<c>GET /_matrix/key/v2/server</c>), transactions the server sends
/// it (other origins' joins, EDUs; all acknowledged, none looked at), and an empty
/// <c>get_missing_events</c> (a PDU Bench sends never misses its prev events, so it is never needed).
/// Everything else is 404 M_UNRECOGNIZED.
/// </summary>
public sealed class FakeRemoteServers : IAsyncDisposable
{
    private readonly Dictionary<int, FakeOrigin> _byPort = [];
    private WebApplication _app = null!;
    private long _transactionsReceived;

    public IReadOnlyList<FakeOrigin> Origins { get; private set; } = [];

    /// <summary>Transactions the server under test sent to any of these origins.</summary>
    public long TransactionsReceived => Interlocked.Read(ref _transactionsReceived);

    public static async Task<FakeRemoteServers> StartAsync(int count, X509Certificate2 certificate)
    {
        var servers = new FakeRemoteServers();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            for (var i = 0; i < count; i++) kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate));
        });
        servers._app = builder.Build();
        servers._app.Run(servers.HandleAsync);
        await servers._app.StartAsync();
        var addresses = servers._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        foreach (var address in addresses)
        {
            var port = new Uri(address).Port;
            servers._byPort[port] = new FakeOrigin($"127.0.0.1:{port}", SigningKey.Generate());
        }
        servers.Origins = [.. servers._byPort.Values];
        return servers;
    }

    private async Task HandleAsync(HttpContext http)
    {
        var origin = _byPort[http.Connection.LocalPort];
        var path = http.Request.Path.Value ?? "";
        http.Response.ContentType = "application/json";
        if (path == "/_matrix/key/v2/server")
        {
            await http.Response.WriteAsync(KeyAnswer(origin).ToJsonString());
        }
        else if (path.StartsWith("/_matrix/federation/v1/send/", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _transactionsReceived);
            await http.Response.WriteAsync("""{"pdus":{}}""");
        }
        else if (path.StartsWith("/_matrix/federation/v1/get_missing_events/", StringComparison.Ordinal))
        {
            await http.Response.WriteAsync("""{"events":[]}""");
        }
        else
        {
            http.Response.StatusCode = 404;
            await http.Response.WriteAsync("""{"errcode":"M_UNRECOGNIZED","error":"Bench's fake server does not serve this."}""");
        }
    }

    /// <summary>The server's key answer (server-server-api "Publishing Keys"), signed by itself, valid for a day.</summary>
    private static JsonObject KeyAnswer(FakeOrigin origin)
    {
        var answer = new JsonObject
        {
            ["server_name"] = origin.ServerName,
            ["verify_keys"] = new JsonObject { [origin.Key.KeyId] = new JsonObject { ["key"] = origin.Key.PublicKeyBase64 } },
            ["old_verify_keys"] = new JsonObject(),
            ["valid_until_ts"] = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds(),
        };
        JsonSigning.Sign(answer, origin.ServerName, origin.Key);
        return answer;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
