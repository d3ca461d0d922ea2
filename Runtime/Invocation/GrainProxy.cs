using System.Reflection;

namespace Orleans.Runtime.Invocation;

/// <summary>The object a caller gets from <c>GetGrain</c>: every method call becomes a grain call.</summary>
public class GrainProxy : DispatchProxy
{
    private IGrainCallInvoker? _invoker;
    private Type? _interface;

    public string PrimaryKey { get; private set; } = "";

    internal static T Create<T>(IGrainCallInvoker invoker, string key) where T : IGrainWithStringKey
    {
        var proxy = DispatchProxy.Create<T, GrainProxy>();
        var self = (GrainProxy)(object)proxy!;
        self._invoker = invoker;
        self._interface = typeof(T);
        self.PrimaryKey = key;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var method = GrainInterfaceMap.For(_interface!, targetMethod!);
        var result = _invoker!.InvokeAsync(method, PrimaryKey, args ?? []);
        return method.ToCallerReturn(result);
    }
}

public interface IGrainCallInvoker
{
    Task<object?> InvokeAsync(GrainMethod method, string key, object?[] arguments);
}
