using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.ThreePids;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// Binding a user's 3PIDs at identity servers (/account/3pid/bind, /unbind, /delete) and remembering
/// where, so that an unbind without <c>id_server</c> goes to each server the 3PID was bound at.
/// </summary>
public sealed class ThreePidBindings(IdentityServerClient identityServers, RequestSigner signer, ThreePidStore store, ThreePidLog log)
{
    private const string BindPath = "_matrix/identity/v2/3pid/bind";
    private const string UnbindPath = "_matrix/identity/v2/3pid/unbind";

    /// <summary>Proxies the bind of a session the identity server validated; its errors are passed on, as the spec asks.</summary>
    public async Task BindAtIdentityServerAsync(string userId, string idServer, string accessToken, string sid, string clientSecret, CancellationToken cancellationToken)
    {
        var response = await identityServers.PostAsync(idServer, BindPath,
            new JsonObject { ["sid"] = sid, ["client_secret"] = clientSecret, ["mxid"] = userId },
            new AuthenticationHeaderValue("Bearer", accessToken), cancellationToken);
        if (!response.Ok) throw identityServers.Relay(idServer, BindPath, response);
        if (response.Body["medium"] is not JsonValue medium || !medium.TryGetValue<string>(out var mediumText) ||
            response.Body["address"] is not JsonValue address || !address.TryGetValue<string>(out var addressText) || addressText.Length > 320 ||
            mediumText is not ("email" or "msisdn"))
        {
            throw new MatrixException(502, "M_UNKNOWN", "The identity server's answer to the bind names no medium and address.");
        }
        await store.AddBoundIdServerAsync(userId, mediumText, addressText, idServer, cancellationToken);
    }

    /// <summary>
    /// Unbinds at <paramref name="idServer"/>, or at every server it was bound at. True when each
    /// unbound it; false when none is known or one does not support unbinding (the spec's <c>no-support</c>).
    /// </summary>
    public async Task<bool> TryUnbindAsync(string userId, string medium, string address, string? idServer, CancellationToken cancellationToken)
    {
        var servers = idServer is not null ? [idServer] : await store.GetBoundIdServersAsync(userId, medium, address, cancellationToken);
        if (servers.Count == 0) return false;
        var all = true;
        foreach (var server in servers)
        {
            var content = new JsonObject { ["mxid"] = userId, ["threepid"] = new JsonObject { ["medium"] = medium, ["address"] = address } };
            var authorization = await signer.AuthorizationAsync("POST", "/" + UnbindPath, server, content, cancellationToken);
            var response = await identityServers.PostAsync(server, UnbindPath, content, authorization, cancellationToken);
            if (response.Status is 400 or 404 or 501)
            {
                // As Synapse: the identity server probably does not support unbinding.
                log.UnbindUnsupported(server, response.Status);
                all = false;
            }
            else if (!response.Ok)
            {
                log.IdentityServerFailed(server, UnbindPath, $"HTTP {response.Status}");
                throw new MatrixException(502, "M_UNKNOWN", "Failed to contact the identity server.");
            }
            await store.RemoveBoundIdServerAsync(userId, medium, address, server, cancellationToken);
        }
        return all;
    }
}
