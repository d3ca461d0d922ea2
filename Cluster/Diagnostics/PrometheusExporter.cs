using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Homeserver.Cluster.Diagnostics;

/// <summary>
/// Collects this host's System.Diagnostics.Metrics instruments (its own meters named "Homeserver.*",
/// ASP.NET Core's request metrics and Orleans' own) and writes them in Prometheus' text format. Only meters made by
/// this host's <see cref="IMeterFactory"/> count, so hosts sharing a test process stay apart. Counters are summed and histograms
/// bucketed per tag set as measurements arrive; observable gauges are read at scrape time.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private const string OrleansMeterName = "Microsoft.Orleans";
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), Series> _series = new();

    public PrometheusExporter(IMeterFactory meters)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            var ours = instrument.Meter.Name.StartsWith("Homeserver", StringComparison.Ordinal) ||
                       instrument.Meter.Name == "Microsoft.AspNetCore.Hosting";
            // Orleans' meters are static, one set per process (a test process hosting several silos sums them).
            var orleans = instrument.Meter.Name == OrleansMeterName;
            if ((ours && ReferenceEquals(instrument.Meter.Scope, meters)) || orleans) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Record(i, value, tags));
        _listener.Start();
    }

    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var output = new StringBuilder();
        // By metric name, not by instrument: Orleans makes one instrument per pool or queue under one name, and
        // Prometheus wants one TYPE line per name and one sample per label set.
        foreach (var group in _series.GroupBy(kv => MetricName(kv.Key.Instrument)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var name = group.Key;
            var instrument = group.First().Key.Instrument;
            var type = instrument switch
            {
                Histogram<double> or Histogram<long> or Histogram<int> => "histogram",
                ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double> or UpDownCounter<long> or UpDownCounter<int>
                    or ObservableUpDownCounter<long> or ObservableUpDownCounter<int> or ObservableUpDownCounter<double> => "gauge",
                _ => "counter",
            };
            if (type == "counter" && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
            if (instrument.Description is { Length: > 0 } help) output.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\n", " ")).Append('\n');
            output.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var sameLabels in group.GroupBy(kv => kv.Key.Labels).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var labels = sameLabels.Key;
                double sum = 0;
                long count = 0;
                var buckets = new long[Buckets.Length];
                foreach (var (_, series) in sameLabels)
                {
                    lock (series)
                    {
                        sum += series.Sum;
                        count += series.Count;
                        for (var b = 0; b < Buckets.Length; b++) buckets[b] += series.BucketCounts[b];
                    }
                }
                if (type == "histogram")
                {
                    long cumulative = 0;
                    for (var b = 0; b < Buckets.Length; b++)
                    {
                        cumulative += buckets[b];
                        Line(output, name + "_bucket", Join(labels, $"le=\"{Format(Buckets[b])}\""), cumulative);
                    }
                    Line(output, name + "_bucket", Join(labels, "le=\"+Inf\""), count);
                    Line(output, name + "_sum", labels, sum);
                    Line(output, name + "_count", labels, count);
                }
                else
                {
                    Line(output, name, labels, sum);
                }
            }
        }
        return output.ToString();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // Prometheus measures time in seconds; Orleans reports some durations in milliseconds.
        if (instrument.Unit == "ms") value /= 1000;
        var series = _series.GetOrAdd((instrument, Labels(tags)), _ => new Series());
        lock (series)
        {
            switch (instrument)
            {
                case Histogram<double> or Histogram<long>:
                    series.Count++;
                    series.Sum += value;
                    var bucket = Array.FindIndex(Buckets, b => value <= b);
                    if (bucket >= 0) series.BucketCounts[bucket]++;
                    break;
                case ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double>:
                    series.Sum = value;
                    break;
                default:
                    series.Sum += value;
                    break;
            }
        }
    }

    private static string MetricName(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_').Replace('-', '_');
        if (instrument.Unit == "ms" && name.EndsWith("_ms", StringComparison.Ordinal)) name = name[..^3];
        return instrument.Unit is "s" or "ms" && !name.EndsWith("_seconds", StringComparison.Ordinal) ? name + "_seconds" : name;
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var parts = new List<string>(tags.Length);
        foreach (var (key, value) in tags)
        {
            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            parts.Add($"{key.Replace('.', '_')}=\"{text.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"");
        }
        parts.Sort(StringComparer.Ordinal);
        return string.Join(',', parts);
    }

    private static string Join(string labels, string extra) => labels.Length == 0 ? extra : labels + "," + extra;

    private static void Line(StringBuilder output, string name, string labels, double value)
    {
        output.Append(name);
        if (labels.Length > 0) output.Append('{').Append(labels).Append('}');
        output.Append(' ').Append(Format(value)).Append('\n');
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose() => _listener.Dispose();

    private sealed class Series
    {
        public double Sum;
        public long Count;
        public readonly long[] BucketCounts = new long[Buckets.Length];
    }
}
