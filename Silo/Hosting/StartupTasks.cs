using Homeserver.Grains.Hosting;
using Homeserver.Protocol;
using Homeserver.Storage.Keys;
using Homeserver.Storage.Migrations;
using Homeserver.Storage.Streams;
using Microsoft.Extensions.Hosting;

namespace Homeserver.Silo.Hosting;

/// <summary>
/// Runs before the listeners open: schema migrations, the server's signing key, and this
/// instance's stream writers. Readiness reports true only after it.
/// </summary>
public sealed class StartupTasks(
    ProcessSettings settings,
    MigrationRunner migrations,
    SigningKeyStore keys,
    LocalStreamWriters writers,
    ServerIdentityHolder identity,
    HostLog log) : IHostedService
{
    public bool Completed { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await migrations.ApplyAsync(cancellationToken);
        var (_, stored) = await keys.GetOrCreateAsync(settings.ServerName, () =>
        {
            var generated = SigningKey.Generate();
            return (generated.KeyId, generated.ToSynapseFormat());
        }, cancellationToken);
        var key = SigningKey.ParseSynapseFormat(stored);
        identity.Identity = new ServerIdentity(settings.ServerName, key);
        foreach (var stream in settings.StreamsWrittenHere.Where(LocalStreamWriters.DurableStreams.Contains))
        {
            await writers.StartAsync(stream, settings.InstanceName, cancellationToken);
        }
        Completed = true;
        log.Started(settings.InstanceName, settings.Kind.ToString(), settings.ServerName, key.KeyId);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
