using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Homeserver.Bench;

/// <summary>What one scenario measured: named figures and, where it has one, its latency distribution.</summary>
public sealed record ScenarioResult(string Scenario, string Shape, IReadOnlyDictionary<string, double> Figures, Latencies? Latency);

/// <summary>Scenario sizes; the defaults are the targets.</summary>
public sealed record BenchSizes(
    int Senders = 64, int Rooms = 100, int Messages = 20_000,
    int DeliveryObservers = 4, int DeliveryRooms = 10, int DeliveryRate = 1000, int DeliverySeconds = 10,
    int InitialSyncRooms = 100, int InitialSyncEvents = 20,
    int FanOutMembers = 500, int FanOutMessages = 20, int DrainSeconds = 30,
    int FederationOrigins = 4, int FederationRooms = 20, int FederationPdus = 4_000, int PdusPerTransaction = 50);

/// <summary>The scenarios, each against a server that is already up, through the client-server API only.</summary>
public sealed class Scenarios(Uri server, string shape, BenchSizes sizes, Action<string, double> progress)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];
    private int _users;

    private Task<MatrixHttp> NewUserAsync() => MatrixHttp.RegisterAsync(server, $"bench{_run}u{Interlocked.Increment(ref _users)}", "bench-password");

    private async Task<List<MatrixHttp>> NewUsersAsync(int count, string what)
    {
        var users = new ConcurrentBag<MatrixHttp>();
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, _) =>
        {
            users.Add(await NewUserAsync());
            progress($"{what}: registering users", 100.0 * Interlocked.Increment(ref done) / count);
        });
        return [.. users];
    }

    /// <summary>C senders over R rooms, N messages as fast as they go: sends/s and send latency.</summary>
    public async Task<ScenarioResult> SendAsync()
    {
        var senders = await NewUsersAsync(sizes.Senders, "send");
        var rooms = new List<string>();
        for (var r = 0; r < sizes.Rooms; r++)
        {
            rooms.Add(await senders[r % senders.Count].CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" }));
            progress("send: creating rooms", 100.0 * (r + 1) / sizes.Rooms);
        }
        // Room r belongs to sender r mod C, who created it; with fewer rooms than senders the rest join one.
        var assigned = senders.Select((_, s) => rooms.Where((_, r) => r % senders.Count == s).ToList()).ToList();
        for (var s = 0; s < senders.Count; s++)
        {
            if (assigned[s].Count > 0) continue;
            assigned[s].Add(rooms[s % rooms.Count]);
            await senders[s].JoinAsync(assigned[s][0]);
        }

        var latency = new Latencies();
        var sent = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(senders.Select((sender, s) => Task.Run(async () =>
        {
            for (var i = 0; ; i++)
            {
                var n = Interlocked.Increment(ref sent);
                if (n > sizes.Messages) return;
                var start = Stopwatch.GetTimestamp();
                await sender.SendTextAsync(assigned[s][i % assigned[s].Count], $"bench message {n}");
                latency.Add(Latencies.Since(start));
                if (n % 100 == 0) progress("send: sending", 100.0 * n / sizes.Messages);
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        return new ScenarioResult("send", shape, new Dictionary<string, double>
        {
            ["messages"] = sizes.Messages, ["senders"] = sizes.Senders, ["rooms"] = sizes.Rooms,
            ["sends_per_s"] = sizes.Messages / seconds, ["p50_ms"] = latency.Percentile(50), ["p99_ms"] = latency.Percentile(99),
        }, latency);
    }

    /// <summary>Observers long-poll while senders send at a set rate: send-to-arrival latency, missing and duplicated events.</summary>
    public async Task<ScenarioResult> DeliveryAsync()
    {
        // Enough senders that their own round trips do not cap the rate below the target.
        var senderCount = Math.Max(8, sizes.DeliveryRate / 25);
        var users = await NewUsersAsync(senderCount + sizes.DeliveryObservers, "delivery");
        var senders = users.Take(senderCount).ToList();
        var observers = users.Skip(senderCount).ToList();
        var rooms = new List<string>();
        for (var r = 0; r < sizes.DeliveryRooms; r++)
        {
            var room = await senders[r % senderCount].CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
            foreach (var u in users.Where(u => u != senders[r % senderCount])) await u.JoinAsync(room);
            rooms.Add(room);
            progress("delivery: rooms and members", 100.0 * (r + 1) / sizes.DeliveryRooms);
        }

        var sentAt = new ConcurrentDictionary<string, long>();
        var latency = new Latencies();
        var seen = observers.Select(_ => new ConcurrentDictionary<string, int>()).ToList();
        using var stop = new CancellationTokenSource();
        var errors = new SyncErrors();
        using var ready = new CountdownEvent(observers.Count);
        var following = observers.Select((o, i) => FollowAsync(o, rooms.ToHashSet(), (body, at) =>
        {
            if (!body.StartsWith("d ", StringComparison.Ordinal)) return;
            seen[i].AddOrUpdate(body, 1, (_, c) => c + 1);
            if (sentAt.TryGetValue(body, out var start)) latency.Add(Stopwatch.GetElapsedTime(start, at).TotalMilliseconds);
        }, errors, ready, stop.Token)).ToList();
        await WaitUntilFollowingAsync(ready, "delivery: observers' initial syncs");
        await Task.Delay(500);

        var total = sizes.DeliveryRate * sizes.DeliverySeconds;
        var interval = TimeSpan.FromSeconds((double)senderCount / sizes.DeliveryRate);
        var next = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(senders.Select((sender, s) => Task.Run(async () =>
        {
            var due = clock.Elapsed;
            while (true)
            {
                var n = Interlocked.Increment(ref next);
                if (n > total) return;
                var body = $"d {n}";
                sentAt[body] = Stopwatch.GetTimestamp();
                await sender.SendTextAsync(rooms[n % rooms.Count], body);
                if (n % 100 == 0) progress("delivery: sending", 100.0 * n / total);
                due += interval;
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
            }
        })));
        var sendSeconds = clock.Elapsed.TotalSeconds;
        // Wait for the stragglers, then count.
        var deadline = DateTime.UtcNow.AddSeconds(sizes.DrainSeconds);
        while (seen.Any(s => s.Count < total) && DateTime.UtcNow < deadline) await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(following);
        var missing = seen.Sum(s => total - s.Count);
        var duplicated = seen.Sum(s => s.Values.Sum(c => c - 1));
        return new ScenarioResult("delivery", shape, new Dictionary<string, double>
        {
            ["messages"] = total, ["observers"] = observers.Count, ["rooms"] = rooms.Count, ["target_per_s"] = sizes.DeliveryRate,
            ["achieved_per_s"] = total / sendSeconds, ["p50_ms"] = latency.Percentile(50), ["p99_ms"] = latency.Percentile(99),
            ["missing"] = missing, ["duplicated"] = duplicated, ["sync_errors"] = errors.Count,
        }, latency);
    }

    /// <summary>A user in R rooms with T events each: time and size of a fresh /sync.</summary>
    public async Task<ScenarioResult> InitialSyncAsync()
    {
        var user = await NewUserAsync();
        for (var r = 0; r < sizes.InitialSyncRooms; r++)
        {
            var room = await user.CreateRoomAsync(new JsonObject { ["name"] = $"room {r}" });
            await Task.WhenAll(Enumerable.Range(0, sizes.InitialSyncEvents).Select(e => user.SendTextAsync(room, $"event {e}")));
            progress("initial sync: filling rooms", 100.0 * (r + 1) / sizes.InitialSyncRooms);
        }
        // Make sure every event is visible before timing, then time fresh syncs.
        await user.SyncAsync(null, 0);
        var latency = new Latencies();
        long bytes = 0;
        for (var i = 0; i < 10; i++)
        {
            var start = Stopwatch.GetTimestamp();
            (_, bytes) = await user.SyncAsync(null, 0);
            latency.Add(Latencies.Since(start));
        }
        return new ScenarioResult("initial_sync", shape, new Dictionary<string, double>
        {
            ["rooms"] = sizes.InitialSyncRooms, ["events_per_room"] = sizes.InitialSyncEvents,
            ["p50_ms"] = latency.Percentile(50), ["max_ms"] = latency.Percentile(100), ["response_kb"] = bytes / 1024.0,
        }, latency);
    }

    /// <summary>One room, U members all long-polling, one sender: delivery latency to every member.</summary>
    public async Task<ScenarioResult> FanOutAsync()
    {
        var members = await NewUsersAsync(sizes.FanOutMembers, "fan-out");
        var sender = members[0];
        var room = await sender.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var joined = 0;
        await Parallel.ForEachAsync(members.Skip(1), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (m, _) =>
        {
            await m.JoinAsync(room);
            progress("fan-out: joining", 100.0 * Interlocked.Increment(ref joined) / (members.Count - 1));
        });

        var sentAt = new ConcurrentDictionary<string, long>();
        var latency = new Latencies();
        var received = new ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var errors = new SyncErrors();
        using var ready = new CountdownEvent(members.Count);
        var following = members.Select(m => FollowAsync(m, new HashSet<string> { room }, (body, at) =>
        {
            if (!body.StartsWith("f ", StringComparison.Ordinal)) return;
            received.AddOrUpdate(body, 1, (_, c) => c + 1);
            if (sentAt.TryGetValue(body, out var start)) latency.Add(Stopwatch.GetElapsedTime(start, at).TotalMilliseconds);
        }, errors, ready, stop.Token)).ToList();
        // A fan-out to members who are all long-polling: first every initial sync (500 at once is a load of its own).
        var startedFollowing = Stopwatch.StartNew();
        await WaitUntilFollowingAsync(ready, "fan-out: members' initial syncs");
        var followingAfter = startedFollowing.Elapsed.TotalSeconds;
        await Task.Delay(2000);
        for (var i = 0; i < sizes.FanOutMessages; i++)
        {
            var body = $"f {i}";
            sentAt[body] = Stopwatch.GetTimestamp();
            await sender.SendTextAsync(room, body);
            progress("fan-out: sending", 100.0 * (i + 1) / sizes.FanOutMessages);
            await Task.Delay(250);
        }
        var expected = sizes.FanOutMessages * members.Count;
        var deadline = DateTime.UtcNow.AddSeconds(sizes.DrainSeconds);
        while (received.Values.Sum() < expected && DateTime.UtcNow < deadline) await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(following);
        return new ScenarioResult("fan_out", shape, new Dictionary<string, double>
        {
            ["members"] = members.Count, ["messages"] = sizes.FanOutMessages, ["p50_ms"] = latency.Percentile(50), ["p99_ms"] = latency.Percentile(99),
            ["missing"] = expected - Math.Min(expected, received.Values.Sum()), ["duplicated"] = received.Values.Sum(c => Math.Max(0, c - members.Count)),
            ["initial_syncs_s"] = followingAfter, ["sync_errors"] = errors.Count,
        }, latency);
    }

    /// <summary>
    /// A client's sync loop: reports each timeline message body with the moment it arrived. Signals
    /// <paramref name="ready"/> once its initial sync is done and its first long poll is about to go out;
    /// a failed sync is retried after a second with the same token, as a client would, and counted.
    /// </summary>
    private static async Task FollowAsync(MatrixHttp user, IReadOnlySet<string> rooms, Action<string, long> onMessage, SyncErrors errors,
        CountdownEvent ready, CancellationToken stop)
    {
        const string filter = """{"room":{"timeline":{"limit":1000},"state":{"lazy_load_members":true}},"presence":{"types":[]}}""";
        string? since = null;
        while (since is null && !stop.IsCancellationRequested)
        {
            try
            {
                since = (await user.SyncAsync(null, 0, filter, stop)).Body["next_batch"]!.GetValue<string>();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                errors.Add(e);
                await Task.Delay(1000, CancellationToken.None);
            }
        }
        ready.Signal();
        while (!stop.IsCancellationRequested)
        {
            JsonObject body;
            try
            {
                (body, _) = await user.SyncAsync(since, 10_000, filter, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                errors.Add(e);
                await Task.Delay(1000, CancellationToken.None);
                continue;
            }
            var at = Stopwatch.GetTimestamp();
            since = body["next_batch"]!.GetValue<string>();
            foreach (var (roomId, room) in body["rooms"]?["join"]?.AsObject() ?? [])
            {
                if (!rooms.Contains(roomId)) continue;
                foreach (var e in room?["timeline"]?["events"]?.AsArray() ?? [])
                {
                    if (e?["content"]?["body"] is JsonValue b && b.TryGetValue<string>(out var text)) onMessage(text, at);
                }
            }
        }
    }

    /// <summary>Syncs that failed (and were retried); the first few reasons go to stderr.</summary>
    private sealed class SyncErrors
    {
        private int _count;

        public int Count => _count;

        public void Add(Exception e)
        {
            if (Interlocked.Increment(ref _count) <= 3) Console.Error.WriteLine($"sync failed: {e.Message}");
        }
    }

    /// <summary>Waits until every follower is long-polling (bounded: a server that cannot get there still gets measured).</summary>
    private async Task WaitUntilFollowingAsync(CountdownEvent ready, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (!ready.IsSet && DateTime.UtcNow < deadline)
        {
            progress(what, 100.0 * (ready.InitialCount - ready.CurrentCount) / ready.InitialCount);
            await Task.Delay(250);
        }
    }
}
