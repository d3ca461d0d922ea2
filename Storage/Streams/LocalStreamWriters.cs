using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>The stream writers this process owns, by stream name (from <c>stream_writers</c>).</summary>
public sealed class LocalStreamWriters
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly StorageLog _log;

    private readonly NpgsqlDataSource _positions;

    public LocalStreamWriters(NpgsqlDataSource dataSource, StreamPositionsPool positions, StorageLog log, IMeterFactory meters)
    {
        _dataSource = dataSource;
        _positions = positions.DataSource;
        _log = log;
        var meter = meters.Create("Homeserver.Storage");
        meter.CreateObservableGauge("stream_writer_position", () => All.Select(w => Measure(w, w.CurrentPosition)),
            description: "Position below which this writer has committed everything, per stream.");
        meter.CreateObservableGauge("stream_writer_lag", () => All.Select(w => Measure(w, w.Lag)),
            description: "Positions this writer has allocated but not yet committed, per stream.");
    }

    private static Measurement<long> Measure(MultiWriterIdGenerator writer, long value) =>
        new(value, new KeyValuePair<string, object?>("stream", writer.StreamName), new KeyValuePair<string, object?>("instance", writer.InstanceName));

    /// <summary>Streams persisted in PostgreSQL, each with a position sequence. Typing lives only in memory.</summary>
    public static readonly IReadOnlySet<string> DurableStreams = new HashSet<string>(StringComparer.Ordinal)
        { "events", "account_data", "to_device", "receipts", "presence", "device_lists", "push_rules", "caches" };

    private readonly Dictionary<string, MultiWriterIdGenerator> _writers = new(StringComparer.Ordinal);

    public IReadOnlyCollection<MultiWriterIdGenerator> All
    {
        get { lock (_writers) return _writers.Values.ToArray(); }
    }

    public async Task<MultiWriterIdGenerator> StartAsync(string streamName, string instanceName, CancellationToken cancellationToken = default)
    {
        var generator = await MultiWriterIdGenerator.CreateAsync(_dataSource, streamName, instanceName, cancellationToken, _positions);
        lock (_writers) _writers[streamName] = generator;
        return generator;
    }

    public MultiWriterIdGenerator Get(string streamName)
    {
        lock (_writers)
        {
            return _writers.TryGetValue(streamName, out var generator)
                ? generator
                : throw new InvalidOperationException($"This process is not a writer of the {streamName} stream.");
        }
    }

    /// <summary>Advances idle writers and persists every writer's position, so readers elsewhere move on.</summary>
    public async Task PersistAllAsync(CancellationToken cancellationToken)
    {
        foreach (var writer in All)
        {
            try
            {
                await writer.AdvanceIfIdleAsync(cancellationToken);
                await writer.PersistAsync(cancellationToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                _log.PersistPositionFailed(e, writer.StreamName);
            }
        }
    }
}

/// <summary>
/// Position rows get a small pool of their own (see <see cref="MultiWriterIdGenerator"/>), never
/// starved by the writes whose order they record. Its sessions commit without waiting for the WAL
/// flush: a row is visible to readers the moment it commits either way, and after a crash every
/// writer writes its row again at start, so the flush would buy nothing and cost a disk sync per event.
/// </summary>
public sealed record StreamPositionsPool(NpgsqlDataSource DataSource)
{
    public static StreamPositionsPool For(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { MinPoolSize = 0, MaxPoolSize = 4, Options = "-c synchronous_commit=off" };
        // The process's session name, where it has one, so fencing a dead silo ends these sessions too.
        builder.ApplicationName ??= "stream positions";
        return new(new NpgsqlDataSourceBuilder(builder.ConnectionString).Build());
    }
}

/// <summary>Persists local writer positions on a short period.</summary>
public sealed class StreamPositionPersister(LocalStreamWriters writers, TimeProvider timeProvider) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(200);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await writers.PersistAllAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
