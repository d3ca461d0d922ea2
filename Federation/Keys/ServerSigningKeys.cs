using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Homeserver.Storage.Keys;

namespace Homeserver.Federation.Keys;

/// <summary>
/// The server's signing key as API hosts use it: the one key every process shares, kept in PostgreSQL
/// (the first process to start creates it). Loaded once; a failed load is retried by the next caller.
/// </summary>
public sealed class ServerSigningKeys(SigningKeyStore store, ProcessSettings settings)
{
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
}
