using System.Diagnostics.Metrics;

namespace Orleans.Runtime.Diagnostics;

/// <summary>The grain runtime's instruments: calls by grain, method and where they ran, and their duration.</summary>
public sealed class RuntimeMetrics : IDisposable
{
    public const string MeterName = "Homeserver.Runtime";
    private readonly Meter _meter;

    public RuntimeMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        Calls = _meter.CreateCounter<long>("grain_calls_total", description: "Grain calls made from this process.");
        CallDuration = _meter.CreateHistogram<double>("grain_call_duration", unit: "s", description: "Grain call duration seen by the caller.");
    }

    public Counter<long> Calls { get; }
    public Histogram<double> CallDuration { get; }

    /// <summary>Reports the activation count of this process's catalog at each scrape.</summary>
    public void ObserveActivations(Func<int> count) =>
        _meter.CreateObservableGauge("grain_activations", count, description: "Grain activations in this process.");

    public void Dispose() => _meter.Dispose();
}
