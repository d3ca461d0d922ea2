using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Hosting;
using Homeserver.Protocol;
using Homeserver.Storage.Keys;
using Homeserver.Storage.Streams;
using Orleans;
using Orleans.Runtime;

namespace Homeserver.Silo.Hosting;

/// <summary>
/// A silo's own start-up work, run by Orleans' silo lifecycle before the silo joins the cluster as
/// Active (so before any grain call reaches it): the server's signing key, and this instance's stream
/// writers. The silo is ready once that is done and membership says it is Active.
/// </summary>
public sealed class SiloStartup(
    ProcessSettings settings,
    SigningKeyStore keys,
    LocalStreamWriters writers,
    ServerIdentityHolder identity,
    ISiloStatusOracle membership,
    SiloLog log) : ILifecycleParticipant<ISiloLifecycle>, IProcessReadiness
{
    public bool Completed { get; private set; }

    public bool IsReady => Completed && membership.CurrentStatus == SiloStatus.Active;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloStartup), ServiceLifecycleStage.ApplicationServices, StartAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var (_, stored) = await keys.GetOrCreateAsync(settings.ServerName, () =>
        {
            var generated = SigningKey.Generate();
            return (generated.KeyId, generated.ToSynapseFormat());
        }, cancellationToken);
        var key = SigningKey.ParseSynapseFormat(stored);
        identity.Identity = new ServerIdentity(settings.ServerName, key);
        var written = settings.StreamsWrittenHere.Where(LocalStreamWriters.DurableStreams.Contains).ToList();
        foreach (var stream in written) await writers.StartAsync(stream, settings.InstanceName, cancellationToken);
        Completed = true;
        log.SiloStarted(settings.InstanceName, settings.ServerName, key.KeyId, string.Join(", ", written));
    }
}
