using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Outbound federation in this process: transactions by outcome with their latency, PDUs sent, and per
/// destination with an activation here its pending PDUs, whether it is backing off and how long its last
/// transaction took.
/// </summary>
public sealed class FederationSenderMetrics : IDisposable
{
    public const string MeterName = "Homeserver.FederationSender";

    private readonly Meter _meter;
    private readonly Counter<long> _transactions;
    private readonly Counter<long> _pdus;
    private readonly Histogram<double> _duration;
    private readonly ConcurrentDictionary<string, (int Pending, bool BackingOff)> _destinations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, double> _lastDuration = new(StringComparer.Ordinal);

    public FederationSenderMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _transactions = _meter.CreateCounter<long>("federation_transactions_total", description: "Outbound federation transactions by outcome (delivered, refused, failed).");
        _pdus = _meter.CreateCounter<long>("federation_pdus_sent_total", description: "PDUs in transactions a destination accepted.");
        _meter.CreateObservableGauge("federation_pending_pdus",
            () => _destinations.Select(d => new Measurement<int>(d.Value.Pending, new KeyValuePair<string, object?>("destination", d.Key))),
            description: "PDUs queued in memory per destination.");
        _duration = _meter.CreateHistogram<double>("federation_transaction_duration", unit: "s",
            description: "How long outbound transactions took, answer or failure, by outcome.");
        _meter.CreateObservableGauge("federation_last_transaction_seconds",
            () => _lastDuration.Select(d => new Measurement<double>(d.Value, new KeyValuePair<string, object?>("destination", d.Key))),
            description: "How long the last transaction to each destination took.");
        _meter.CreateObservableGauge("federation_destination_backing_off",
            () => _destinations.Select(d => new Measurement<int>(d.Value.BackingOff ? 1 : 0, new KeyValuePair<string, object?>("destination", d.Key))),
            description: "1 while a destination is being backed off from.");
    }

    public void Transaction(string destination, TransactionOutcome outcome, int pdus, TimeSpan took)
    {
        var label = new KeyValuePair<string, object?>("outcome", outcome.ToString().ToLowerInvariant());
        _transactions.Add(1, label);
        _duration.Record(took.TotalSeconds, label);
        _lastDuration[destination] = took.TotalSeconds;
        if (outcome == TransactionOutcome.Delivered && pdus > 0) _pdus.Add(pdus);
    }

    public void Destination(string destination, int pending, bool backingOff) => _destinations[destination] = (pending, backingOff);

    public void Forget(string destination)
    {
        _destinations.TryRemove(destination, out _);
        _lastDuration.TryRemove(destination, out _);
    }

    public void Dispose() => _meter.Dispose();
}
