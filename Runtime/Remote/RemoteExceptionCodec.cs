using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Orleans.Runtime.Remote;

/// <summary>
/// Carries a grain's exception across processes. An exception type whose public constructor
/// parameters all match its public properties by name (records-style) is rebuilt as itself, so a
/// caller can catch the same type it would catch for a local call; anything else arrives as a
/// <see cref="GrainCallException"/> with the original type name and message.
/// </summary>
public static class RemoteExceptionCodec
{
    private static readonly ConcurrentDictionary<string, Type?> Types = new(StringComparer.Ordinal);

    public static JsonObject Encode(Exception exception)
    {
        var type = exception.GetType();
        var properties = new JsonObject();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.DeclaringType == typeof(Exception) && property.Name != nameof(Exception.Message)) continue;
            if (property.GetIndexParameters().Length > 0) continue;
            try
            {
                properties[property.Name] = JsonSerializer.SerializeToNode(property.GetValue(exception), property.PropertyType, GrainJson.Options);
            }
            catch (Exception e) when (e is NotSupportedException or JsonException or InvalidOperationException)
            {
                // Not every property serializes (delegates, streams); such a property simply does not travel.
            }
        }
        return new JsonObject
        {
            ["type"] = type.FullName,
            ["message"] = exception.Message,
            ["properties"] = properties,
        };
    }

    public static Exception Decode(JsonObject encoded)
    {
        var typeName = encoded["type"]?.GetValue<string>() ?? "unknown";
        var message = encoded["message"]?.GetValue<string>() ?? "";
        var properties = encoded["properties"] as JsonObject ?? [];
        var type = Types.GetOrAdd(typeName, FindType);
        if (type is not null && TryRebuild(type, properties, message) is { } rebuilt) return rebuilt;
        return new GrainCallException(typeName, $"{typeName}: {message}");
    }

    private static Exception? TryRebuild(Type type, JsonObject properties, string message)
    {
        foreach (var constructor in type.GetConstructors().OrderByDescending(c => c.GetParameters().Length))
        {
            var parameters = constructor.GetParameters();
            var values = new object?[parameters.Length];
            var ok = true;
            for (var i = 0; i < parameters.Length && ok; i++)
            {
                var p = parameters[i];
                var node = properties.FirstOrDefault(kv => string.Equals(kv.Key, p.Name, StringComparison.OrdinalIgnoreCase)).Value;
                if (node is null && string.Equals(p.Name, "message", StringComparison.OrdinalIgnoreCase))
                {
                    values[i] = message;
                }
                else if (node is not null || p.HasDefaultValue)
                {
                    try
                    {
                        values[i] = node is null ? p.DefaultValue : node.Deserialize(p.ParameterType, GrainJson.Options);
                    }
                    catch (JsonException)
                    {
                        ok = false;
                    }
                }
                else
                {
                    ok = false;
                }
            }
            if (ok) return (Exception)constructor.Invoke(values);
        }
        return null;
    }

    private static Type? FindType(string fullName)
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            var type = assembly.GetType(fullName, throwOnError: false);
            if (type is not null && typeof(Exception).IsAssignableFrom(type)) return type;
        }
        return null;
    }
}
