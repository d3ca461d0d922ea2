using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Protocol;
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

/// <summary>An invite store-invite kept for an address, as an identity server keeps it until the address is bound.</summary>
public sealed record StoredThirdPartyInvite(string Medium, string Address, string RoomId, string Sender, string Token);

/// <summary>
/// The Identity Service API v2 endpoints the homeserver calls (3pid/bind, 3pid/unbind, hash_details,
/// lookup, store-invite, pubkey/isvalid), on loopback over plain HTTP, with bindings and access tokens
/// the test sets. Like Sydent, a bind of an address with stored invites tells the bound user's
/// homeserver (<see cref="OnBindHomeserver"/>) through /3pid/onbind, each invite signed with its key.
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

    /// <summary>The long-term key store-invite publishes (with the ephemeral one) and signs invites with.</summary>
    public SigningKey ServerKey { get; } = SigningKey.Generate();

    public SigningKey EphemeralKey { get; } = SigningKey.Generate();

    /// <summary>Public keys pubkey/isvalid says are no longer valid.</summary>
    public ConcurrentDictionary<string, bool> RevokedKeys { get; } = new();

    public ConcurrentQueue<StoredThirdPartyInvite> StoredInvites { get; } = new();

    /// <summary>Where a bind sends /3pid/onbind; none when null.</summary>
    public Uri? OnBindHomeserver { get; set; }

    /// <summary>The status and body of each /3pid/onbind the binds sent.</summary>
    public ConcurrentQueue<(int Status, string Body)> OnBindAnswers { get; } = new();

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
        _app.MapPost("/_matrix/identity/v2/3pid/bind", (Delegate)Bind);
        _app.MapPost("/_matrix/identity/v2/3pid/unbind", (HttpContext http) => Results.Json(new JsonObject(), statusCode: UnbindStatus));
        _app.MapGet("/_matrix/identity/v2/hash_details", (HttpContext http) => Authorized(http) ?? Results.Json(new JsonObject
        {
            ["algorithms"] = OffersSha256 ? new JsonArray("none", "sha256") : new JsonArray("none"),
            ["lookup_pepper"] = Pepper,
        }));
        _app.MapPost("/_matrix/identity/v2/lookup", Lookup);
        _app.MapPost("/_matrix/identity/v2/store-invite", StoreInvite);
        _app.MapGet("/_matrix/identity/v2/pubkey/isvalid", IsValid);
        _app.MapGet("/_matrix/identity/v2/pubkey/ephemeral/isvalid", IsValid);
    }

    private IResult IsValid(HttpContext http)
    {
        var key = http.Request.Query["public_key"].ToString();
        var known = key == ServerKey.PublicKeyBase64 || key == EphemeralKey.PublicKeyBase64;
        return Results.Json(new JsonObject { ["valid"] = known && !RevokedKeys.ContainsKey(key) });
    }

    /// <summary>The signed block of an invite, as Sydent makes it: mxid, sender and token, signed by the server key.</summary>
    public JsonObject Signed(string mxid, StoredThirdPartyInvite invite)
    {
        var signed = new JsonObject { ["mxid"] = mxid, ["sender"] = invite.Sender, ["token"] = invite.Token };
        JsonSigning.Sign(signed, ServerName, ServerKey);
        return signed;
    }

    private async Task OnBindAsync(string medium, string address, string mxid)
    {
        var pending = StoredInvites.Where(i => i.Medium == medium && i.Address == address).ToList();
        if (OnBindHomeserver is null || pending.Count == 0) return;
        var body = new JsonObject
        {
            ["medium"] = medium, ["address"] = address, ["mxid"] = mxid,
            ["invites"] = new JsonArray(pending.Select(i => (JsonNode)new JsonObject
            {
                ["medium"] = medium, ["address"] = address, ["mxid"] = mxid, ["room_id"] = i.RoomId, ["sender"] = i.Sender, ["signed"] = Signed(mxid, i),
            }).ToArray()),
        };
        using var http = new HttpClient { BaseAddress = OnBindHomeserver };
        using var response = await http.PostAsync("/_matrix/federation/v1/3pid/onbind", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        OnBindAnswers.Enqueue(((int)response.StatusCode, await response.Content.ReadAsStringAsync()));
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

    private async Task<IResult> Bind(HttpContext http)
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
        await OnBindAsync(session.Medium, session.Address, mxid);
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
        var token = "tok" + Guid.NewGuid().ToString("N");
        StoredInvites.Enqueue(new StoredThirdPartyInvite(body["medium"]!.GetValue<string>(), address, body["room_id"]!.GetValue<string>(),
            body["sender"]!.GetValue<string>(), token));
        return Results.Json(new JsonObject
        {
            ["token"] = token,
            ["display_name"] = address[0] + "...@" + address.Split('@')[1][0] + "...",
            ["public_keys"] = new JsonArray(
                new JsonObject { ["public_key"] = ServerKey.PublicKeyBase64, ["key_validity_url"] = $"http://{ServerName}/_matrix/identity/v2/pubkey/isvalid" },
                new JsonObject { ["public_key"] = EphemeralKey.PublicKeyBase64, ["key_validity_url"] = $"http://{ServerName}/_matrix/identity/v2/pubkey/ephemeral/isvalid" }),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
