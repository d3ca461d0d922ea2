using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace Homeserver.Bench.Federation;

/// <summary>Where the scenario finds the server's federation API, and how it appears there as other servers.</summary>
/// <param name="Federation">The server's federation listener (HTTPS in a real run; the test cluster's plain HTTP in tests).</param>
/// <param name="Handler">The handler that connects there (trusting the run's CA for HTTPS).</param>
/// <param name="RemoteCertificate">The fake servers' certificate for 127.0.0.1, from a CA the server trusts (<c>federation_custom_ca_list</c>).</param>
/// <param name="CpuSeconds">CPU seconds so far of the server's processes and of its PostgreSQL, where Bench started them: on a shared
/// machine, CPU per PDU says more than PDUs per second.</param>
public sealed record FederationTarget(Uri Federation, HttpMessageHandler Handler, X509Certificate2 RemoteCertificate,
    Func<(double Server, double Postgres)>? CpuSeconds = null);

/// <summary>
/// Inbound <c>PUT /_matrix/federation/v1/send/{txnId}</c> throughput: Bench plays K remote homeservers, each
/// with one transaction in flight at a time (as a sender should: server-server-api "Transactions"), each
/// transaction up to 50 PDUs. Their users join one room, then R rooms, of a local user's, through the real
/// join flow; each then sends messages in lines, each message citing that origin's previous one. A
/// transaction deals its PDUs over the rooms in turn, as a busy server's would. The figure is PDUs accepted
/// per second (answered without an "error"), with the latency of each transaction. Every PDU and request is
/// built and signed before the clock starts, and each origin's first transaction is an untimed warm-up, so
/// the figures are the server's, not Bench's hashing or the JIT's.
/// </summary>
public sealed class FederationSendScenario(Uri client, FederationTarget target, string shape, BenchSizes sizes, Action<string, double> progress)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync()
    {
        await using var remotes = await FakeRemoteServers.StartAsync(sizes.FederationOrigins, target.RemoteCertificate);
        var server = new FederationHttp(target.Federation, target.Handler);
        var destination = await server.ServerNameAsync();
        var owner = await MatrixHttp.RegisterAsync(client, $"bench{_run}fed", "bench-password");
        var results = new List<ScenarioResult>();
        foreach (var roomCount in new[] { 1, sizes.FederationRooms }.Distinct())
        {
            var what = $"federation_send, {roomCount} room{(roomCount == 1 ? "" : "s")}";
            var rooms = new List<string>();
            for (var r = 0; r < roomCount; r++) rooms.Add(await owner.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" }));
            var chains = await JoinAsync(server, destination, remotes.Origins, rooms, what);
            var transactions = Prepare(chains, destination, what);
            results.Add(await SendAsync(server, remotes, transactions, roomCount, what));
        }
        return results;
    }

    /// <summary>
    /// Every origin's user joins every room, one after the other in a room (rooms side by side); chains[o][r]
    /// is origin o's line in room r, each starting after the room's last join, so that every line builds on
    /// the room's current state: the lines fork there, but their state is the current state, as it is for a
    /// remote server that has seen the room's latest events.
    /// </summary>
    private async Task<List<List<RemoteRoomChain>>> JoinAsync(FederationHttp server, string destination, IReadOnlyList<FakeOrigin> origins,
        List<string> rooms, string what)
    {
        var chains = origins.Select(_ => new RemoteRoomChain[rooms.Count]).ToList();
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, rooms.Count), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (r, _) =>
        {
            for (var o = 0; o < origins.Count; o++)
            {
                chains[o][r] = await RemoteRoomChain.JoinAsync(server, destination, origins[o], rooms[r]);
                progress($"{what}: remote users joining", 100.0 * Interlocked.Increment(ref done) / (rooms.Count * origins.Count));
            }
            var lastJoin = chains[^1][r].Tip;
            foreach (var chain in chains) chain[r].ContinueFrom(lastJoin);
        });
        return [.. chains.Select(c => c.ToList())];
    }

    private sealed record PreparedTransaction(SignedRequest Request, IReadOnlyList<string> EventIds);

    /// <summary>Each origin's share of the PDUs as its signed transactions, in the order it sends them.</summary>
    private List<List<PreparedTransaction>> Prepare(List<List<RemoteRoomChain>> chains, string destination, string what)
    {
        var perOrigin = sizes.FederationPdus / chains.Count;
        var prepared = 0;
        return [.. chains.Select((rooms, o) =>
        {
            var origin = rooms[0].Origin;
            var transactions = new List<PreparedTransaction>();
            for (var first = 0; first < perOrigin; first += sizes.PdusPerTransaction)
            {
                var pdus = Enumerable.Range(first, Math.Min(sizes.PdusPerTransaction, perOrigin - first))
                    .Select(i => rooms[i % rooms.Count].NextMessage($"federated message {o}.{i}")).ToList();
                var body = new JsonObject
                {
                    ["origin"] = origin.ServerName,
                    ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    ["pdus"] = new JsonArray([.. pdus.Select(p => p.Pdu)]),
                };
                var txnId = $"{_run}.{chains[0].Count}r.{transactions.Count}";
                transactions.Add(new PreparedTransaction(
                    SignedRequest.Create(HttpMethod.Put, $"/_matrix/federation/v1/send/{txnId}", origin, destination, body), [.. pdus.Select(p => p.EventId)]));
                prepared += pdus.Count;
                progress($"{what}: signing PDUs", 100.0 * prepared / (perOrigin * chains.Count));
            }
            return transactions;
        })];
    }

    /// <summary>All origins at once, each sending its transactions one after the other.</summary>
    private async Task<ScenarioResult> SendAsync(FederationHttp server, FakeRemoteServers remotes, List<List<PreparedTransaction>> transactions, int roomCount,
        string what)
    {
        // Each origin's first transaction goes before the clock starts and is not counted: it warms the receive
        // path (JIT, connections, TLS sessions), which would otherwise weigh on whichever case runs first.
        foreach (var warm in await Task.WhenAll(transactions.Select(own => server.SendAsync(own[0].Request))))
        {
            if (warm.Status != 200) throw new InvalidOperationException($"{what}: a warm-up transaction failed with {warm.Status}: {warm.Body?.ToJsonString()}");
        }
        transactions = [.. transactions.Select(own => own.Skip(1).ToList())];
        var latency = new Latencies();
        var total = transactions.Sum(t => t.Sum(x => x.EventIds.Count));
        long accepted = 0, refused = 0, failedTransactions = 0, sent = 0;
        var reasons = new ConcurrentDictionary<string, int>();
        var cpuBefore = target.CpuSeconds?.Invoke() ?? (double.NaN, double.NaN);
        var outboundBefore = remotes.TransactionsReceived;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(transactions.Select(own => Task.Run(async () =>
        {
            foreach (var transaction in own)
            {
                var start = Stopwatch.GetTimestamp();
                int status;
                JsonNode? body;
                try
                {
                    (status, body) = await server.SendAsync(transaction.Request);
                }
                catch (HttpRequestException e)
                {
                    (status, body) = (0, JsonValue.Create(e.Message));
                }
                latency.Add(Latencies.Since(start));
                if (status != 200 || body?["pdus"] is not JsonObject answers)
                {
                    Interlocked.Increment(ref failedTransactions);
                    Interlocked.Add(ref refused, transaction.EventIds.Count);
                    reasons.AddOrUpdate($"transaction answered {status}: {Shorten(body?.ToJsonString())}", 1, (_, n) => n + 1);
                }
                else
                {
                    foreach (var id in transaction.EventIds)
                    {
                        if (answers[id] is JsonObject outcome && outcome["error"] is null)
                        {
                            Interlocked.Increment(ref accepted);
                            continue;
                        }
                        Interlocked.Increment(ref refused);
                        reasons.AddOrUpdate(Shorten(answers[id]?["error"]?.ToString() ?? "no answer for the PDU"), 1, (_, n) => n + 1);
                    }
                }
                progress($"{what}: sending", 100.0 * Interlocked.Add(ref sent, transaction.EventIds.Count) / total);
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuAfter = target.CpuSeconds?.Invoke() ?? (double.NaN, double.NaN);
        foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value).Take(3)) Console.Error.WriteLine($"federation_send: {count} x {reason}");
        return new ScenarioResult("federation_send", shape, new Dictionary<string, double>
        {
            ["rooms"] = roomCount, ["origins"] = transactions.Count, ["pdus"] = total, ["pdus_per_txn"] = sizes.PdusPerTransaction,
            ["accepted_per_s"] = accepted / seconds, ["refused"] = refused, ["failed_txns"] = failedTransactions,
            ["txn_p50_ms"] = latency.Percentile(50), ["txn_p99_ms"] = latency.Percentile(99),
            // What the server sent Bench's servers meanwhile (late news of the joins; it need not pass on their messages).
            ["txns_to_origins"] = remotes.TransactionsReceived - outboundBefore,
            ["server_cpu_ms_per_pdu"] = (cpuAfter.Server - cpuBefore.Server) * 1000 / Math.Max(1, accepted),
            ["postgres_cpu_ms_per_pdu"] = (cpuAfter.Postgres - cpuBefore.Postgres) * 1000 / Math.Max(1, accepted),
        }, latency);
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 200 ? text : text[..200] + "...";
}
