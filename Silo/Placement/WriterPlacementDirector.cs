using Homeserver.Configuration.Processes;
using Homeserver.Grains.Placement;
using Homeserver.Silo.Hosting;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Homeserver.Silo.Placement;

/// <summary>
/// Places a <see cref="WriterPlacementAttribute"/> grain on a silo holding its role. The writers are
/// the role's <c>stream_writers</c> list, in config order, as silo names; the preferred one is picked by
/// <see cref="StablePlacement"/> over all of them, exactly as before Orleans (so rooms stay where their
/// data and caches are). While it is not Active, the pick is the same hash over the live writers, so
/// every silo placing the same key chooses the same survivor. A role with no live writer fails the
/// call: a grain never lands on a silo its operator did not give that role.
///
/// Scale-out: a silo started later with a newer config (one that lists it as a writer) declares its
/// roles in its Orleans silo metadata. Every silo adds such declared writers after the configured
/// ones (by name), so the silos started with the older list place on the newcomer too, and every silo
/// computes the same list. Existing activations stay where they are; new ones spread over the new list.
/// </summary>
public sealed class WriterPlacementDirector(
    ProcessSettings settings,
    GrainPropertiesResolver grainProperties,
    ISiloStatusOracle membership,
    ISiloMetadataCache metadata,
    SiloLog log) : IPlacementDirector
{
    /// <summary>The silo metadata key under which a silo lists the roles it writes (comma-separated).</summary>
    public const string RolesMetadataKey = "homeserver.roles";

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var role = RoleOf(target.GrainIdentity.Type);
        var configured = ConfiguredWriters(role);
        var key = target.GrainIdentity.Key.ToString();
        var compatible = context.GetCompatibleSilos(target).ToHashSet();
        var live = new Dictionary<string, SiloAddress>(StringComparer.Ordinal);
        var declared = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (address, status) in membership.GetApproximateSiloStatuses(onlyActive: true))
        {
            if (status != SiloStatus.Active || !compatible.Contains(address) || !membership.TryGetSiloName(address, out var name)) continue;
            live[name] = address;
            if (Declares(address, role)) declared.Add(name);
        }
        var writers = configured.Concat(declared.Where(d => !configured.Contains(d))).ToList();

        var preferred = writers[StablePlacement.Pick(key, writers.Count)];
        if (live.TryGetValue(preferred, out var owner)) return Task.FromResult(owner);
        var survivors = writers.Where(live.ContainsKey).ToList();
        if (survivors.Count == 0)
        {
            log.NoLiveWriter(role, target.GrainIdentity.Type.ToString(), key);
            throw new OrleansException($"No live silo writes {role} ({string.Join(", ", writers)}), so {target.GrainIdentity} cannot be placed.");
        }
        return Task.FromResult(live[survivors[StablePlacement.Pick(key, survivors.Count)]]);
    }

    /// <summary>Federation senders are not a stream: their instances come from <c>federation_sender_instances</c>, outbound federation's from <c>outbound_federation_restricted_to</c>.</summary>
    private IReadOnlyList<string> ConfiguredWriters(string role) =>
        role == WriterPlacementAttribute.FederationSenderRole ? settings.FederationSenderInstances
        : role == WriterPlacementAttribute.OutboundFederationRole ? settings.OutboundFederationRestrictedTo
        : settings.StreamWriters.TryGetValue(role, out var list) && list.Count > 0 ? list : ["main"];

    private bool Declares(SiloAddress silo, string role) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(RolesMetadataKey, out var roles) &&
        roles.Split(',').Contains(role, StringComparer.Ordinal);

    private string RoleOf(GrainType type) =>
        grainProperties.TryGetGrainProperties(type, out var properties) &&
        properties.Properties.TryGetValue(WriterPlacementAttribute.RoleProperty, out var role)
            ? role
            : throw new InvalidOperationException($"Grain type {type} uses writer placement but names no role.");
}
