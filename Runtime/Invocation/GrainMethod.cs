using System.Reflection;
using Orleans.Concurrency;

namespace Orleans.Runtime.Invocation;

/// <summary>What the runtime needs to know about one grain interface method, computed once.</summary>
public sealed class GrainMethod
{
    private readonly Func<object, Task<object?>> _awaitResult;
    private readonly Func<Task<object?>, object> _toCallerReturn;

    private GrainMethod(Type grainInterface, MethodInfo method)
    {
        Interface = grainInterface;
        Method = method;
        ParameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray();
        ReadOnly = method.GetCustomAttribute<ReadOnlyAttribute>() is not null;
        AlwaysInterleave = method.GetCustomAttribute<AlwaysInterleaveAttribute>() is not null;
        var returnType = method.ReturnType;
        if (returnType == typeof(Task))
        {
            ResultType = null;
            _awaitResult = async r => { await ((Task)r).ConfigureAwait(false); return null; };
            _toCallerReturn = t => t;
        }
        else if (returnType == typeof(ValueTask))
        {
            ResultType = null;
            _awaitResult = async r => { await ((ValueTask)r).ConfigureAwait(false); return null; };
            _toCallerReturn = t => new ValueTask(t);
        }
        else if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            ResultType = returnType.GetGenericArguments()[0];
            _awaitResult = Generic(nameof(AwaitTask), ResultType).CreateDelegate<Func<object, Task<object?>>>();
            _toCallerReturn = Generic(nameof(ToTask), ResultType).CreateDelegate<Func<Task<object?>, object>>();
        }
        else if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            ResultType = returnType.GetGenericArguments()[0];
            _awaitResult = Generic(nameof(AwaitValueTask), ResultType).CreateDelegate<Func<object, Task<object?>>>();
            _toCallerReturn = Generic(nameof(ToValueTask), ResultType).CreateDelegate<Func<Task<object?>, object>>();
        }
        else
        {
            throw new InvalidOperationException(
                $"Grain method {grainInterface.Name}.{method.Name} must return Task, Task<T>, ValueTask or ValueTask<T>.");
        }
    }

    public Type Interface { get; }
    public MethodInfo Method { get; }
    public string Name => Method.Name;
    public Type[] ParameterTypes { get; }
    public Type? ResultType { get; }
    public bool ReadOnly { get; }
    public bool AlwaysInterleave { get; }
    public override string ToString() => $"{Interface.Name}.{Method.Name}";

    public static GrainMethod Create(Type grainInterface, MethodInfo method) => new(grainInterface, method);

    /// <summary>Runs the method on a grain instance and awaits it into an untyped result.</summary>
    public Task<object?> InvokeAsync(object grain, object?[] arguments)
    {
        object returned;
        try
        {
            returned = Method.Invoke(grain, arguments)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            return Task.FromException<object?>(e.InnerException);
        }
        return _awaitResult(returned);
    }

    /// <summary>Turns the runtime's untyped result back into what the interface method returns.</summary>
    public object ToCallerReturn(Task<object?> result) => _toCallerReturn(result);

    private static MethodInfo Generic(string name, Type t) =>
        typeof(GrainMethod).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(t);

    private static async Task<object?> AwaitTask<T>(object task) => await ((Task<T>)task).ConfigureAwait(false);

    private static async Task<object?> AwaitValueTask<T>(object task) => await ((ValueTask<T>)task).ConfigureAwait(false);

    private static object ToTask<T>(Task<object?> result) => Cast<T>(result);

    private static object ToValueTask<T>(Task<object?> result) => new ValueTask<T>(Cast<T>(result));

    private static async Task<T> Cast<T>(Task<object?> result) => (T)(await result.ConfigureAwait(false))!;
}
