using System.Diagnostics.Metrics;
using Homeserver.Silo.Hosting;
using Homeserver.Storage.Retention;
using Microsoft.Extensions.Hosting;

namespace Homeserver.Silo.BackgroundTasks;

/// <summary>How often the background tasks run and how long each kind of row is kept.</summary>
public sealed class BackgroundTaskOptions
{
    public TimeSpan Interval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Read notifications stay listed by /notifications this long (Synapse keeps a month too).</summary>
    public TimeSpan PushActionRetention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Event and to-device transaction IDs: long past any client's retry (Synapse: a day).</summary>
    public TimeSpan TransactionIdRetention { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Rows of the caches stream (Synapse: a week).</summary>
    public TimeSpan CacheInvalidationRetention { get; init; } = TimeSpan.FromDays(7);
}

/// <summary>
/// The database housekeeping that Synapse runs on <c>run_background_tasks_on</c>: only the process
/// that config names runs it, so two processes never prune the same rows at once.
/// </summary>
public sealed class BackgroundTaskRunner : BackgroundService
{
    private readonly RetentionStore _retention;
    private readonly SiloStartup _startup;
    private readonly BackgroundTaskOptions _options;
    private readonly TimeProvider _clock;
    private readonly SiloLog _log;
    private readonly Counter<long> _deleted;

    public BackgroundTaskRunner(RetentionStore retention, SiloStartup startup, BackgroundTaskOptions options, TimeProvider clock, SiloLog log,
        IMeterFactory meters)
    {
        _retention = retention;
        _startup = startup;
        _options = options;
        _clock = clock;
        _log = log;
        _deleted = meters.Create("Homeserver.BackgroundTasks").CreateCounter<long>("background_task_deleted_rows_total",
            description: "Rows the background tasks pruned, per task.");
    }

    /// <summary>Runs every task once, as of <paramref name="now"/>; returns the rows each one deleted.</summary>
    public async Task<IReadOnlyDictionary<string, long>> RunOnceAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var tasks = new (string Name, TimeSpan Retention, Func<long, CancellationToken, Task<long>> Run)[]
        {
            ("prune_push_actions", _options.PushActionRetention, _retention.PrunePushActionsAsync),
            ("prune_event_txn_ids", _options.TransactionIdRetention, _retention.PruneEventTransactionIdsAsync),
            ("prune_to_device_txn_ids", _options.TransactionIdRetention, _retention.PruneToDeviceTransactionIdsAsync),
            ("prune_cache_invalidations", _options.CacheInvalidationRetention, _retention.PruneCacheInvalidationsAsync),
        };
        var deleted = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, retention, run) in tasks)
        {
            try
            {
                deleted[name] = await run((now - retention).ToUnixTimeMilliseconds(), cancellationToken);
                _deleted.Add(deleted[name], new KeyValuePair<string, object?>("task", name));
                if (deleted[name] > 0) _log.BackgroundTaskPruned(name, deleted[name]);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One failing task does not stop the others; it runs again at the next interval.
                _log.BackgroundTaskFailed(e, name);
            }
        }
        return deleted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Interval, _clock);
        do
        {
            if (_startup.Completed) await RunOnceAsync(_clock.GetUtcNow(), stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
