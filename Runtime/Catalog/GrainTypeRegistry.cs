using System.Reflection;
using Orleans.Concurrency;

namespace Orleans.Runtime.Catalog;

/// <summary>Which grain classes this process can activate, by the grain interface they implement.</summary>
public sealed class GrainTypeRegistry
{
    private readonly Dictionary<Type, Type> _implementations = new();
    private readonly Dictionary<string, Type> _interfacesByWireName = new(StringComparer.Ordinal);

    public void AddAssembly(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes())
        {
            if (type.IsAbstract || !type.IsSubclassOf(typeof(Grain))) continue;
            foreach (var grainInterface in type.GetInterfaces())
            {
                if (!typeof(IGrainWithStringKey).IsAssignableFrom(grainInterface) || grainInterface == typeof(IGrainWithStringKey)) continue;
                _implementations[grainInterface] = type;
                _interfacesByWireName[Invocation.GrainInterfaceMap.WireName(grainInterface)] = grainInterface;
            }
        }
    }

    public bool TryGetImplementation(Type grainInterface, out Type implementation) =>
        _implementations.TryGetValue(grainInterface, out implementation!);

    public bool TryGetInterface(string wireName, out Type grainInterface) =>
        _interfacesByWireName.TryGetValue(wireName, out grainInterface!);

    public static bool IsReentrant(Type implementation) =>
        implementation.GetCustomAttribute<ReentrantAttribute>() is not null ||
        implementation.GetCustomAttribute<StatelessWorkerAttribute>() is not null;
}
