using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>What the fake does beyond answering correctly: the hostile behaviours the homeserver must bound.</summary>
public enum IdentityServerBehaviour
{
    Honest,

    /// <summary>Every answer is a megabyte of JSON.</summary>
    Huge,

    /// <summary>Every answer is a JSON array, not an object.</summary>
    NotAnObject,

    /// <summary>Every answer is a 500 with an HTML page.</summary>
    Broken,
}

/// <summary>One request the fake received: path, Authorization header and JSON body.</summary>
public sealed record IdentityServerCall(string Path, string? Authorization, JsonObject? Body);

/// <summary>
/// The Identity Service API v2 endpoints the homeserver calls (3pid/bind, 3pid/unbind, hash_details,
/// lookup, store-invite), on loopback over plain HTTP, with bindings and access tokens the test sets.
/// </summary>
public sealed class FakeIdentityServer : IAsyncDisposable
{
    public const string AccessToken = "is-access-token";
    public const string Pepper = "matrixrocks";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<IdentityServerCall> _calls = new();

    /// <summary>Validated sessions at the identity server: sid → (client_secret, medium, address).</summary>
    public ConcurrentDictionary<string, (string Secret, string Medium, string Address)> Sessions { get; } = new();

    /// <summary>"address medium" → Matrix ID: what lookup answers.</summary>
    public ConcurrentDictionary<string, string> Bindings { get; } = new();

    public IdentityServerBehaviour Behaviour { get; set; }

    /// <summary>The status /3pid/unbind answers (200 unbinds).</summary>
    public int UnbindStatus { get; set; } = 200;

    /// <summary>Whether hash_details offers sha256 (otherwise only the plain "none" algorithm).</summary>
    public bool OffersSha256 { get; set; } = true;

    public string ServerName { get; }

    public IReadOnlyList<IdentityServerCall> Calls => _calls.ToArray();

    private FakeIdentityServer(int port)
    {
        ServerName = $"127.0.0.1:{port}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        _app = builder.Build();
        _app.Use(async (http, next) =>
        {
            JsonObject? body = null;
            if (http.Request.ContentLength > 0 || http.Request.Method == "POST")
            {
                using var reader = new StreamReader(http.Request.Body);
                body = JsonNode.Parse(await reader.ReadToEndAsync()) as JsonObject;
            }
            http.Items["body"] = body;
            _calls.Enqueue(new IdentityServerCall(http.Request.Path, http.Request.Headers.Authorization.FirstOrDefault(), body));
            switch (Behaviour)
            {
                case IdentityServerBehaviour.Huge:
                    await http.Response.WriteAsync("{\"token\":\"" + new string('x', 1024 * 1024) + "\"}");
                    return;
                case IdentityServerBehaviour.NotAnObject:
                    await http.Response.WriteAsync("[1, 2, 3]");
                    return;
                case IdentityServerBehaviour.Broken:
                    http.Response.StatusCode = 500;
                    await http.Response.WriteAsync("<html>oops</html>");
                    return;
            }
            await next(http);
        });
        _app.MapPost("/_matrix/identity/v2/3pid/bind", Bind);
        _app.MapPost("/_matrix/identity/v2/3pid/unbind", (HttpContext http) => Results.Json(new JsonObject(), statusCode: UnbindStatus));
        _app.MapGet("/_matrix/identity/v2/hash_details", (HttpContext http) => Authorized(http) ?? Results.Json(new JsonObject
        {
            ["algorithms"] = OffersSha256 ? new JsonArray("none", "sha256") : new JsonArray("none"),
            ["lookup_pepper"] = Pepper,
        }));
        _app.MapPost("/_matrix/identity/v2/lookup", Lookup);
        _app.MapPost("/_matrix/identity/v2/store-invite", StoreInvite);
    }

    public static async Task<FakeIdentityServer> StartAsync()
    {
        var server = new FakeIdentityServer(LoopbackPorts.Free());
        await server._app.StartAsync();
        return server;
    }

    public IReadOnlyList<IdentityServerCall> CallsTo(string path) => Calls.Where(c => c.Path == path).ToList();

    private static IResult? Authorized(HttpContext http) => http.Request.Headers.Authorization == $"Bearer {AccessToken}"
        ? null
        : Results.Json(new JsonObject { ["errcode"] = "M_UNAUTHORIZED", ["error"] = "Unknown access token." }, statusCode: 401);

    private IResult Bind(HttpContext http)
    {
        if (Authorized(http) is { } refused) return refused;
        var body = (JsonObject)http.Items["body"]!;
        var sid = body["sid"]!.GetValue<string>();
        if (!Sessions.TryGetValue(sid, out var session) || session.Secret != body["client_secret"]!.GetValue<string>())
        {
            return Results.Json(new JsonObject { ["errcode"] = "M_NO_VALID_SESSION", ["error"] = "No valid session was found." }, statusCode: 400);
        }
        var mxid = body["mxid"]!.GetValue<string>();
        Bindings[$"{session.Address} {session.Medium}"] = mxid;
        return Results.Json(new JsonObject
        {
            ["address"] = session.Address, ["medium"] = session.Medium, ["mxid"] = mxid,
            ["not_before"] = 0, ["not_after"] = 4_000_000_000_000L, ["ts"] = 1, ["signatures"] = new JsonObject(),
        });
    }

    private IResult Lookup(HttpContext http)
    {
        if (Authorized(http) is { } refused) return refused;
        var body = (JsonObject)http.Items["body"]!;
        var algorithm = body["algorithm"]!.GetValue<string>();
        var mappings = new JsonObject();
        foreach (var address in body["addresses"]!.AsArray().Select(a => a!.GetValue<string>()))
        {
            foreach (var (key, mxid) in Bindings)
            {
                var expected = algorithm == "sha256"
                    ? Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes($"{key} {Pepper}"))).TrimEnd('=').Replace('+', '-').Replace('/', '_')
                    : key;
                if (expected == address) mappings[address] = mxid;
            }
        }
        return Results.Json(new JsonObject { ["mappings"] = mappings });
    }

    private IResult StoreInvite(HttpContext http)
    {
        if (Authorized(http) is { } refused) return refused;
        var body = (JsonObject)http.Items["body"]!;
        var address = body["address"]!.GetValue<string>();
        return Results.Json(new JsonObject
        {
            ["token"] = "tok" + Guid.NewGuid().ToString("N"),
            ["display_name"] = address[0] + "...@" + address.Split('@')[1][0] + "...",
            ["public_keys"] = new JsonArray(
                new JsonObject { ["public_key"] = "serverPublicKeyBase64", ["key_validity_url"] = $"https://{ServerName}/_matrix/identity/v2/pubkey/isvalid" },
                new JsonObject { ["public_key"] = "ephemeralPublicKeyBase64", ["key_validity_url"] = $"https://{ServerName}/_matrix/identity/v2/pubkey/ephemeral/isvalid" }),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
