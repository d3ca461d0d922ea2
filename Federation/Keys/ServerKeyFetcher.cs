using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;

namespace Homeserver.Federation.Keys;

/// <summary>
/// Asks for a server's keys (server-server-api "Retrieving server keys"): the server itself
/// (<c>GET /_matrix/key/v2/server</c>, unsigned), or the notaries of <c>trusted_key_servers</c>
/// (<c>POST /_matrix/key/v2/query</c>). Only answers that verify are kept, each key with the signed
/// answer that listed it, so this server can serve them again as a notary.
/// </summary>
public sealed class ServerKeyFetcher(IFederationClient client, FederationClientOptions options, RemoteServerKeyStore store, TimeProvider clock,
    KeyRingLog log)
{
    /// <summary>A key answer is a few hundred bytes; a notary's answer a few per server asked.</summary>
    public const long MaxAnswerBytes = 256 * 1024;

    /// <summary>How long one server or notary may take to answer; key fetches hold up the request that needs the key.</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The keys the server itself publishes, verified and stored; empty when it gave none that verify.</summary>
    public async Task<IReadOnlyList<ServerVerifyKey>> FromOriginAsync(string serverName, CancellationToken cancellationToken)
    {
        var answer = await AskAsync(serverName, new FederationRequest(HttpMethod.Get, serverName, "/_matrix/key/v2/server", Signed: false),
            cancellationToken);
        if (answer is null) return [];
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (!ServerKeysAnswer.TryVerify(answer, serverName, now, out var keys, out var error))
        {
            log.AnswerRefused(serverName, serverName, error);
            return [];
        }
        await StoreAsync(keys, serverName, now, cancellationToken);
        return keys.Keys;
    }

    /// <summary>
    /// Asks each notary in turn for <paramref name="keyId"/> of <paramref name="serverName"/>, until one gives it valid at
    /// <paramref name="validAtTs"/>; returns every verified key the notaries gave.
    /// </summary>
    public async Task<IReadOnlyList<ServerVerifyKey>> FromNotariesAsync(string serverName, string keyId, long validAtTs, CancellationToken cancellationToken)
    {
        var found = new List<ServerVerifyKey>();
        foreach (var notary in options.TrustedKeyServers)
        {
            var body = new JsonObject
            {
                ["server_keys"] = new JsonObject { [serverName] = new JsonObject { [keyId] = new JsonObject { ["minimum_valid_until_ts"] = validAtTs } } },
            };
            var answer = await AskAsync(serverName, new FederationRequest(HttpMethod.Post, notary.ServerName, "/_matrix/key/v2/query", body), cancellationToken,
                notary.ServerName);
            if (answer?["server_keys"] is not JsonArray entries)
            {
                if (answer is not null) log.AnswerRefused(serverName, notary.ServerName, "server_keys is not a list");
                continue;
            }
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var entry in entries.Take(ServerKeysAnswer.MaxKeys))
            {
                // A notary may add other servers' answers; only the one asked about is taken, so a notary cannot plant keys.
                if (entry is not JsonObject json || json["server_name"]?.GetValueKind() != System.Text.Json.JsonValueKind.String
                    || json["server_name"]!.GetValue<string>() != serverName) continue;
                if (notary.VerifyKeys is { } notaryKeys && !ServerKeysAnswer.SignedByNotary(json, notary.ServerName, notaryKeys))
                {
                    log.AnswerRefused(serverName, notary.ServerName, "the answer is not signed with a key configured for the notary");
                    continue;
                }
                if (!ServerKeysAnswer.TryVerify(json, serverName, now, out var keys, out var error))
                {
                    log.AnswerRefused(serverName, notary.ServerName, error);
                    continue;
                }
                await StoreAsync(keys, notary.ServerName, now, cancellationToken);
                found.AddRange(keys.Keys);
            }
            if (found.Any(k => k.KeyId == keyId && k.ValidUntilTs >= validAtTs)) break;
        }
        return found;
    }

    private async Task<JsonObject?> AskAsync(string serverName, FederationRequest request, CancellationToken cancellationToken, string? notary = null)
    {
        var from = notary ?? serverName;
        try
        {
            var response = await client.SendAsync(request with { MaxResponseBytes = MaxAnswerBytes, Timeout = AnswerTimeout }, cancellationToken);
            if (response.IsSuccess && response.Body is JsonObject body) return body;
            log.FetchFailed(serverName, from, response.IsSuccess ? "the answer is not a JSON object" : $"HTTP {response.StatusCode}");
        }
        catch (FederationRequestException e)
        {
            log.FetchFailed(serverName, from, e.Message);
        }
        return null;
    }

    private Task StoreAsync(ServerKeysAnswer answer, string fromServer, long now, CancellationToken cancellationToken)
    {
        var json = answer.Json.ToJsonString();
        return store.SaveAsync(
            [.. answer.Keys.Select(k => new RemoteServerKey(k.ServerName, k.KeyId, k.PublicKeyBase64, k.ValidUntilTs, k.Expired, fromServer, now, json))],
            cancellationToken);
    }
}
