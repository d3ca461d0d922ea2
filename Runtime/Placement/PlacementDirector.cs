using System.Collections.Concurrent;
using System.Reflection;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime.Hosting;

namespace Orleans.Runtime.Placement;

/// <summary>
/// Static placement from configuration: a grain interface marked with
/// <see cref="WriterPlacementAttribute"/> lives on one of that role's writers, chosen by
/// <see cref="StablePlacement"/>; stateless workers and unmarked grains run where they are called.
/// </summary>
public sealed class PlacementDirector(GrainRuntimeOptions options)
{
    private readonly ConcurrentDictionary<Type, string?> _roles = new();

    public string LocalInstance => options.InstanceName;

    public string Place(Type grainInterface, string key)
    {
        var role = _roles.GetOrAdd(grainInterface, RoleOf);
        if (role is null) return options.InstanceName;
        var writers = WritersOf(role);
        return writers[StablePlacement.Pick(key, writers.Count)];
    }

    public IReadOnlyList<string> WritersOf(string role) =>
        options.Roles.TryGetValue(role, out var writers) && writers.Count > 0 ? writers : [options.InstanceName];

    private static string? RoleOf(Type grainInterface) =>
        grainInterface.GetCustomAttribute<StatelessWorkerAttribute>() is not null
            ? null
            : grainInterface.GetCustomAttribute<WriterPlacementAttribute>()?.Role;
}
