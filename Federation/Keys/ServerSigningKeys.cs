using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Homeserver.Storage.Keys;

namespace Homeserver.Federation.Keys;

/// <summary>
/// The server's signing key as API hosts use it: the one key every process shares, kept in PostgreSQL
/// (the first process to start creates it). Loaded once; a failed load is retried by the next caller.
/// </summary>
public sealed class ServerSigningKeys(SigningKeyStore store, ProcessSettings settings, TimeProvider clock)
{
    /// <summary>
    /// How long others may cache the key: Synapse's <c>key_refresh_interval</c> default of one day, well
    /// inside the seven days after which room versions 5+ refuse a key's validity.
    /// </summary>
    public static readonly TimeSpan PublishedValidity = TimeSpan.FromDays(1);

    private readonly SemaphoreSlim _loading = new(1, 1);
    private SigningKey? _key;

    public async Task<SigningKey> CurrentAsync(CancellationToken cancellationToken)
    {
        if (_key is { } key) return key;
        await _loading.WaitAsync(cancellationToken);
        try
        {
            if (_key is null)
            {
                var (_, stored) = await store.GetOrCreateAsync(settings.ServerName, () =>
                {
                    var generated = SigningKey.Generate();
                    return (generated.KeyId, generated.ToSynapseFormat());
                }, cancellationToken);
                _key = SigningKey.ParseSynapseFormat(stored);
            }
            return _key;
        }
        finally
        {
            _loading.Release();
        }
    }

    /// <summary>This server's "Server Keys" object, self-signed, as <c>GET /_matrix/key/v2/server</c> and a notary answer about us publish it.</summary>
    public async Task<JsonObject> PublishedAnswerAsync(CancellationToken cancellationToken)
    {
        var key = await CurrentAsync(cancellationToken);
        var answer = new JsonObject
        {
            ["server_name"] = settings.ServerName,
            ["verify_keys"] = new JsonObject { [key.KeyId] = new JsonObject { ["key"] = key.PublicKeyBase64 } },
            ["old_verify_keys"] = new JsonObject(),
            ["valid_until_ts"] = clock.GetUtcNow().Add(PublishedValidity).ToUnixTimeMilliseconds(),
        };
        JsonSigning.Sign(answer, settings.ServerName, key);
        return answer;
    }
}
