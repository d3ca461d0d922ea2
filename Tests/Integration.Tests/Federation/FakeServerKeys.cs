using System.Net;
using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Another server's signing key and its key answers, served by a <see cref="RemoteHomeserver"/> under the
/// server's name: self-signed as a real server signs them, or altered to test what is refused.
/// </summary>
public sealed class FakeServerKeys(string serverName)
{
    public string ServerName => serverName;

    public SigningKey Key { get; } = SigningKey.Generate();

    /// <summary>A name under fed.test that the loopback DNS resolves to 127.0.0.1, on the remote's port.</summary>
    public static FakeServerKeys Resolving(FederationTransportFixture fixture, string prefix)
    {
        var host = fixture.Name(prefix);
        fixture.Dns.AddAddress(host, IPAddress.Loopback);
        return new FakeServerKeys($"{host}:{fixture.Remote.Port}");
    }

    public JsonObject Answer(long validUntilTs, Action<JsonObject>? change = null, SigningKey? signer = null)
    {
        var answer = new JsonObject
        {
            ["server_name"] = serverName,
            ["verify_keys"] = new JsonObject { [Key.KeyId] = new JsonObject { ["key"] = Key.PublicKeyBase64 } },
            ["old_verify_keys"] = new JsonObject(),
            ["valid_until_ts"] = validUntilTs,
        };
        change?.Invoke(answer);
        JsonSigning.Sign(answer, serverName, signer ?? Key);
        return answer;
    }

    /// <summary>Serves <c>GET /_matrix/key/v2/server</c> with whatever <paramref name="answer"/> gives at the time, after <paramref name="delay"/>.</summary>
    public void Serve(RemoteHomeserver remote, Func<JsonNode?> answer, TimeSpan? delay = null, int status = 200) =>
        remote.Handle(serverName, "/_matrix/key/v2/server", async http =>
        {
            if (delay is { } d) await Task.Delay(d);
            http.Response.StatusCode = status;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(answer()?.ToJsonString() ?? "{}");
        });

    public int Fetches(RemoteHomeserver remote) => remote.RequestCount(serverName, "/_matrix/key/v2/server");
}
