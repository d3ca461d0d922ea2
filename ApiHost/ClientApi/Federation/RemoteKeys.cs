using System.Text.Json.Nodes;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Microsoft.Extensions.Logging;

namespace Homeserver.ApiHost.ClientApi.Federation;

/// <summary>
/// /keys/query and /keys/claim for users of other servers: one request to each server, all at once, within
/// the client's <c>timeout</c> (10 s by default, as Synapse). A server that does not answer in time, cannot be
/// reached or answers with an error is named in <c>failures</c> with its status and message, as Synapse does,
/// and the rest of the answer stands. Only keys of the users a server was asked about, its own, are taken.
/// </summary>
public sealed partial class RemoteKeys(IFederationClient client, ILogger<RemoteKeys> logger)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Asks each server for its users' device and cross-signing keys, merging them into <paramref name="response"/>.</summary>
    public Task QueryAsync(IReadOnlyDictionary<string, JsonObject> deviceKeysByServer, TimeSpan timeout, JsonObject response, JsonObject failures,
        CancellationToken cancellationToken) =>
        AskEachAsync(deviceKeysByServer, "/_matrix/federation/v1/user/keys/query", "device_keys", timeout, failures,
            ["device_keys", "master_keys", "self_signing_keys"], section => response[section] as JsonObject ?? (JsonObject)(response[section] = new JsonObject()),
            cancellationToken);

    /// <summary>Claims one-time keys of each server's users, merging them into <paramref name="claimed"/>.</summary>
    public Task ClaimAsync(IReadOnlyDictionary<string, JsonObject> oneTimeKeysByServer, TimeSpan timeout, JsonObject claimed, JsonObject failures,
        CancellationToken cancellationToken) =>
        AskEachAsync(oneTimeKeysByServer, "/_matrix/federation/v1/user/keys/claim", "one_time_keys", timeout, failures, ["one_time_keys"], _ => claimed,
            cancellationToken);

    /// <summary>
    /// One request per server, all at once, with <paramref name="requestKey"/> holding what it is asked; of each
    /// answer's <paramref name="sections"/>, the entries of users it was asked about and that are its own are merged
    /// into the object <paramref name="into"/> gives for the section.
    /// </summary>
    private Task AskEachAsync(IReadOnlyDictionary<string, JsonObject> byServer, string path, string requestKey, TimeSpan timeout,
        JsonObject failures, IReadOnlyList<string> sections, Func<string, JsonObject> into, CancellationToken cancellationToken) =>
        Task.WhenAll(byServer.Select(async kv =>
        {
            var (server, wanted) = (kv.Key, kv.Value);
            var answer = await AskAsync(server, path, new JsonObject { [requestKey] = wanted.DeepClone() }, timeout, failures, cancellationToken);
            if (answer is null) return;
            lock (byServer)
            {
                foreach (var section in sections)
                {
                    if (answer[section] is not JsonObject given) continue;
                    var target = into(section);
                    foreach (var (userId, keys) in given)
                    {
                        if (wanted.ContainsKey(userId) && keys is JsonObject && IsOf(userId, server)) target[userId] = keys.DeepClone();
                    }
                }
            }
        }));

    private async Task<JsonObject?> AskAsync(string server, string path, JsonObject body, TimeSpan timeout, JsonObject failures,
        CancellationToken cancellationToken)
    {
        string failure;
        int status;
        try
        {
            var response = await client.SendAsync(new FederationRequest(HttpMethod.Post, server, path, body) { Timeout = timeout }, cancellationToken);
            if (response.IsSuccess && response.Body is JsonObject answer) return answer;
            (status, failure) = (response.IsSuccess ? 502 : response.StatusCode, response.IsSuccess ? "The answer is not a JSON object." : $"HTTP {response.StatusCode}");
        }
        catch (FederationRequestException e)
        {
            (status, failure) = (503, e.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            (status, failure) = (504, "The server did not answer in time.");
        }
        Failed(server, path, failure);
        lock (failures) failures[server] = new JsonObject { ["status"] = status, ["message"] = failure };
        return null;
    }

    private static bool IsOf(string userId, string server) => UserId.TryParse(userId, out var user) && user.Server.ToString() == server;

    [LoggerMessage(EventId = 5706, Level = LogLevel.Information, Message = "Asking {Server} for {Path} on behalf of a client failed: {Reason}")]
    private partial void Failed(string server, string path, string reason);
}
