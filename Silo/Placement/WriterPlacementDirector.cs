using Homeserver.Configuration.Processes;
using Homeserver.Grains.Placement;
using Homeserver.Silo.Hosting;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Homeserver.Silo.Placement;

/// <summary>
/// Places a <see cref="WriterPlacementAttribute"/> grain on a silo holding its role. The writers are
/// the role's <c>stream_writers</c> list, in config order, as silo names; the preferred one is picked by
/// <see cref="StablePlacement"/> over all of them, exactly as before Orleans (so rooms stay where their
/// data and caches are). While it is not Active, the pick is the same hash over the live writers, so
/// every silo placing the same key chooses the same survivor. A role with no live writer fails the
/// call: a grain never lands on a silo its operator did not give that role.
/// </summary>
public sealed class WriterPlacementDirector(
    ProcessSettings settings,
    GrainPropertiesResolver grainProperties,
    ISiloStatusOracle membership,
    SiloLog log) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var role = RoleOf(target.GrainIdentity.Type);
        var writers = settings.StreamWriters.TryGetValue(role, out var configured) && configured.Count > 0 ? configured : ["main"];
        var key = target.GrainIdentity.Key.ToString();
        var compatible = context.GetCompatibleSilos(target).ToHashSet();
        var live = new Dictionary<string, SiloAddress>(StringComparer.Ordinal);
        foreach (var (address, status) in membership.GetApproximateSiloStatuses(onlyActive: true))
        {
            if (status == SiloStatus.Active && compatible.Contains(address) && membership.TryGetSiloName(address, out var name)) live[name] = address;
        }

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

    private string RoleOf(GrainType type) =>
        grainProperties.TryGetGrainProperties(type, out var properties) &&
        properties.Properties.TryGetValue(WriterPlacementAttribute.RoleProperty, out var role)
            ? role
            : throw new InvalidOperationException($"Grain type {type} uses writer placement but names no role.");
}
