using System.Collections.Concurrent;
using System.Reflection;

namespace Orleans.Runtime.Invocation;

/// <summary>Grain interfaces by wire name and their methods, built by reflection once per type.</summary>
public static class GrainInterfaceMap
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, GrainMethod>> Methods = new();
    private static readonly ConcurrentDictionary<MethodInfo, GrainMethod> ByMethod = new();

    public static string WireName(Type grainInterface) => grainInterface.FullName!;

    public static IReadOnlyDictionary<string, GrainMethod> MethodsOf(Type grainInterface) =>
        Methods.GetOrAdd(grainInterface, Build);

    public static GrainMethod For(Type grainInterface, MethodInfo method) =>
        ByMethod.GetOrAdd(method, m => MethodsOf(grainInterface)[m.Name]);

    private static IReadOnlyDictionary<string, GrainMethod> Build(Type grainInterface)
    {
        var methods = new Dictionary<string, GrainMethod>(StringComparer.Ordinal);
        foreach (var type in grainInterface.GetInterfaces().Prepend(grainInterface))
        {
            foreach (var method in type.GetMethods())
            {
                // Methods travel by name, so overloads would be ambiguous on the wire.
                if (!methods.TryAdd(method.Name, GrainMethod.Create(grainInterface, method)))
                {
                    throw new InvalidOperationException(
                        $"Grain interface {grainInterface.Name} overloads {method.Name}; grain methods need unique names.");
                }
            }
        }
        return methods;
    }
}
