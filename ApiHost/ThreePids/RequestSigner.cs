using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Homeserver.Storage.Keys;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// Signs requests to identity servers with the server's key, as Synapse signs /3pid/unbind: the
/// federation request JSON with <c>destination_is</c> for the identity server (it is no homeserver,
/// so there is no <c>destination</c>), sent as an <c>X-Matrix</c> Authorization header.
/// </summary>
public sealed class RequestSigner(SigningKeyStore keys, ProcessSettings settings)
{
    private SigningKey? _key;

    public async Task<AuthenticationHeaderValue> AuthorizationAsync(string method, string path, string idServer, JsonObject content,
        CancellationToken cancellationToken)
    {
        // The silos create the key at start (first start wins); this only reads it, once.
        _key ??= SigningKey.ParseSynapseFormat((await keys.GetOrCreateAsync(settings.ServerName, () =>
        {
            var generated = SigningKey.Generate();
            return (generated.KeyId, generated.ToSynapseFormat());
        }, cancellationToken)).Seed);
        var request = new JsonObject
        {
            ["method"] = method,
            ["uri"] = path,
            ["origin"] = settings.ServerName,
            ["destination_is"] = idServer,
            ["content"] = content.DeepClone(),
        };
        var signature = UnpaddedBase64.Encode(_key.Sign(CanonicalJson.Encode(request)));
        return new AuthenticationHeaderValue("X-Matrix", $"origin=\"{settings.ServerName}\",key=\"{_key.KeyId}\",sig=\"{signature}\"");
    }
}
