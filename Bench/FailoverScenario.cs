using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Homeserver.Bench;

/// <summary>
/// A silo fails under a continuous load of sends: one sender per room sends without pause, retrying
/// each message with its own transaction ID until it is acknowledged, as clients do; an observer
/// syncs every room. <paramref name="disrupt"/> takes a silo down (kill -9, or SIGSTOP) after a
/// warm-up and <paramref name="recover"/> (SIGCONT) runs near the end. Figures: the longest time a room
/// went without an acknowledged send (the outage), how many rooms had one, and whether every
/// acknowledged event is in its room exactly once, in order, with nothing else, and reached the observer.
/// </summary>
public sealed class FailoverScenario(Uri server, string shape, int rooms, TimeSpan after, Action<string, double> progress)
{
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(5);
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    public async Task<ScenarioResult> RunAsync(string name, Func<Task> disrupt, Func<Task>? recover)
    {
        var senders = new List<MatrixHttp>();
        for (var i = 0; i < rooms; i++) senders.Add(await MatrixHttp.RegisterAsync(server, $"fo{_run}s{i}", "bench-password"));
        var observer = await MatrixHttp.RegisterAsync(server, $"fo{_run}o", "bench-password");
        var roomIds = new List<string>();
        foreach (var sender in senders)
        {
            var room = await sender.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
            await observer.JoinAsync(room);
            roomIds.Add(room);
            progress($"{name}: creating rooms", 100.0 * roomIds.Count / rooms);
        }

        var acks = roomIds.ToDictionary(r => r, _ => new List<(TimeSpan At, string EventId)>());
        var errors = 0;
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var seen = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        var watching = ObserveAsync(observer, roomIds, seen, stop.Token);
        var sending = roomIds.Select((room, r) => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var txn = $"{_run}-{r}-{i}";
                while (true)
                {
                    // The attempt in flight when the run stops is finished, not abandoned: an abandoned send may still land.
                    var (status, eventId) = await senders[r].TrySendTextAsync(room, txn, $"{room} {i}", CancellationToken.None);
                    if (status == 200)
                    {
                        lock (acks[room]) acks[room].Add((clock.Elapsed, eventId!));
                        break;
                    }
                    Interlocked.Increment(ref errors);
                    await Task.Delay(50, CancellationToken.None);
                }
            }
        })).ToList();

        await Task.Delay(WarmUp);
        var disruptedAt = clock.Elapsed;
        progress($"{name}: disrupting", 30);
        await disrupt();
        await Task.Delay(after - TimeSpan.FromSeconds(recover is null ? 0 : 5));
        if (recover is not null)
        {
            await recover();
            await Task.Delay(TimeSpan.FromSeconds(5));
        }
        await stop.CancelAsync();
        await Task.WhenAll(sending.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        progress($"{name}: checking", 80);

        var outages = new List<double>();
        int missing = 0, duplicated = 0, outOfOrder = 0, extra = 0, observerMissing = 0, observerDuplicated = 0;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && roomIds.Any(r => acks[r].Any(a => !(seen.GetValueOrDefault(r)?.Contains(a.EventId) ?? false))))
        {
            await Task.Delay(200);
        }
        foreach (var room in roomIds)
        {
            var acked = acks[room];
            var gap = acked.Zip(acked.Skip(1)).Where(p => p.Second.At > disruptedAt && p.First.At <= disruptedAt + (after))
                .Select(p => (p.Second.At - p.First.At).TotalSeconds).DefaultIfEmpty(0).Max();
            outages.Add(gap);
            var stored = await senders[roomIds.IndexOf(room)].MessageIdsAsync(room);
            var ackedIds = acked.Select(a => a.EventId).ToList();
            duplicated += stored.Count - stored.Distinct().Count();
            missing += ackedIds.Except(stored).Count();
            extra += stored.Except(ackedIds).Count();
            if (!stored.Where(ackedIds.Contains).SequenceEqual(ackedIds.Where(stored.Contains))) outOfOrder++;
            var observed = seen.GetValueOrDefault(room)?.ToList() ?? [];
            observerMissing += ackedIds.Except(observed).Count();
            observerDuplicated += observed.Count - observed.Distinct().Count();
        }
        await watching.ContinueWith(_ => { }, TaskScheduler.Default);
        var affected = outages.Where(o => o > 1).OrderBy(o => o).ToList();
        return new ScenarioResult(name, shape, new Dictionary<string, double>
        {
            ["rooms"] = rooms,
            ["acked"] = acks.Values.Sum(a => a.Count),
            ["rooms_with_outage"] = affected.Count,
            ["outage_max_s"] = outages.Max(),
            ["outage_median_s"] = affected.Count == 0 ? 0 : affected[affected.Count / 2],
            ["failed_attempts"] = errors,
            ["missing"] = missing,
            ["duplicated"] = duplicated,
            ["out_of_order_rooms"] = outOfOrder,
            ["unacked_extra"] = extra,
            ["observer_missing"] = observerMissing,
            ["observer_duplicated"] = observerDuplicated,
        }, null);
    }

    /// <summary>Creates this scenario's number of rooms with one message each and counts them by the silo that wrote them (from PostgreSQL).</summary>
    public async Task<IReadOnlyDictionary<string, int>> NewRoomWritersAsync(ServerLauncher launcher)
    {
        var owner = await MatrixHttp.RegisterAsync(server, $"fo{_run}n", "bench-password");
        var created = new List<string>();
        for (var i = 0; i < rooms; i++)
        {
            var room = await owner.CreateRoomAsync(new JsonObject());
            await owner.SendTextAsync(room, "on whichever silo");
            created.Add(room);
        }
        var list = string.Join(",", created.Select(r => "'" + r.Replace("'", "''", StringComparison.Ordinal) + "'"));
        var output = await PgBench.QueryAsync(launcher.PostgresSocketDirectory,
            $"SELECT instance_name, count(DISTINCT room_id) FROM events WHERE room_id IN ({list}) AND type = 'm.room.message' GROUP BY instance_name");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('|'))
            .ToDictionary(parts => parts[0], parts => int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task ObserveAsync(MatrixHttp observer, IReadOnlyList<string> rooms, ConcurrentDictionary<string, ConcurrentBag<string>> seen,
        CancellationToken stop)
    {
        string? since = null;
        var filter = """{"room":{"timeline":{"limit":200}}}""";
        var quietUntil = DateTime.MaxValue;
        while (DateTime.UtcNow < quietUntil)
        {
            if (stop.IsCancellationRequested && quietUntil == DateTime.MaxValue) quietUntil = DateTime.UtcNow.AddSeconds(20);
            try
            {
                var (body, _) = await observer.SyncAsync(since, 2000, filter);
                since = body["next_batch"]!.GetValue<string>();
                foreach (var room in rooms)
                {
                    foreach (var e in body["rooms"]?["join"]?[room]?["timeline"]?["events"]?.AsArray() ?? [])
                    {
                        if (e!["type"]?.GetValue<string>() == "m.room.message") seen.GetOrAdd(room, _ => []).Add(e["event_id"]!.GetValue<string>());
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                // A sync that failed during the failover is simply made again from the last token, as a client does.
                await Task.Delay(200, CancellationToken.None);
            }
        }
    }
}
