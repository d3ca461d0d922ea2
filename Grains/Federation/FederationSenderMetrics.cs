using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Outbound federation in this process: transactions by outcome, PDUs sent, and per destination with an
/// activation here its pending PDUs and whether it is backing off.
/// </summary>
public sealed class FederationSenderMetrics : IDisposable
{
    public const string MeterName = "Homeserver.FederationSender";

    private readonly Meter _meter;
    private readonly Counter<long> _transactions;
    private readonly Counter<long> _pdus;
    private readonly ConcurrentDictionary<string, (int Pending, bool BackingOff)> _destinations = new(StringComparer.Ordinal);

    public FederationSenderMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _transactions = _meter.CreateCounter<long>("federation_transactions_total", description: "Outbound federation transactions by outcome (delivered, refused, failed).");
        _pdus = _meter.CreateCounter<long>("federation_pdus_sent_total", description: "PDUs in transactions a destination accepted.");
        _meter.CreateObservableGauge("federation_pending_pdus",
            () => _destinations.Select(d => new Measurement<int>(d.Value.Pending, new KeyValuePair<string, object?>("destination", d.Key))),
            description: "PDUs queued in memory per destination.");
        _meter.CreateObservableGauge("federation_destination_backing_off",
            () => _destinations.Select(d => new Measurement<int>(d.Value.BackingOff ? 1 : 0, new KeyValuePair<string, object?>("destination", d.Key))),
            description: "1 while a destination is being backed off from.");
    }

    public void Transaction(TransactionOutcome outcome, int pdus)
    {
        _transactions.Add(1, new KeyValuePair<string, object?>("outcome", outcome.ToString().ToLowerInvariant()));
        if (outcome == TransactionOutcome.Delivered && pdus > 0) _pdus.Add(pdus);
    }

    public void Destination(string destination, int pending, bool backingOff) => _destinations[destination] = (pending, backingOff);

    public void Forget(string destination) => _destinations.TryRemove(destination, out _);

    public void Dispose() => _meter.Dispose();
}
