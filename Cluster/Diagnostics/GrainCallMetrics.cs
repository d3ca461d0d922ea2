using System.Diagnostics;
using System.Diagnostics.Metrics;
using Orleans;

namespace Homeserver.Cluster.Diagnostics;

/// <summary>
/// Grain calls made from this process, by grain interface, method, outcome and where they ran:
/// "remote" from an API host (every call crosses to a silo), "in-process" in a monolith.
/// </summary>
public sealed class GrainCallMetrics : IOutgoingGrainCallFilter, IDisposable
{
    public const string MeterName = "Homeserver.Grains";
    private readonly Meter _meter;
    private readonly Counter<long> _calls;
    private readonly Histogram<double> _duration;
    private readonly string _target;

    public GrainCallMetrics(IMeterFactory meters, GrainCallTarget target, IServiceProvider services)
    {
        _meter = meters.Create(MeterName);
        _calls = _meter.CreateCounter<long>("grain_calls_total", description: "Grain calls made from this process.");
        _duration = _meter.CreateHistogram<double>("grain_call_duration", unit: "s", description: "Grain call duration seen by the caller.");
        _target = target.Name;
        // A silo counts its activations; an API host (an Orleans client) can host none.
        _meter.CreateObservableGauge("grain_activations",
            () => (services.GetService(typeof(Orleans.Runtime.IActivationWorkingSet)) as Orleans.Runtime.IActivationWorkingSet)?.Count ?? 0,
            description: "Grain activations in this process.");
    }

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        // Only the homeserver's own grains: Orleans' system calls (membership, pub/sub, queues) would drown them.
        var grain = context.InterfaceMethod.DeclaringType;
        if (grain?.Namespace?.StartsWith("Homeserver.", StringComparison.Ordinal) != true)
        {
            await context.Invoke();
            return;
        }
        var started = Stopwatch.GetTimestamp();
        var outcome = "ok";
        try
        {
            await context.Invoke();
        }
        catch (Exception e)
        {
            outcome = e is Grains.Interfaces.Errors.MatrixException ? "matrix_error" : "failed";
            throw;
        }
        finally
        {
            var tags = new TagList
            {
                { "grain", grain.Name },
                { "method", context.MethodName },
                { "outcome", outcome },
                { "target", _target },
            };
            _calls.Add(1, tags);
            _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>Where this process's grain calls run: "remote" (an API host) or "in-process" (a monolith).</summary>
public sealed record GrainCallTarget(string Name);
