using System.Globalization;
using System.Text;
using System.Text.Json;
using Homeserver.Bench;
using Homeserver.Bench.Federation;
using Spectre.Console;

// Bench: load scenarios against a homeserver over the client-server API.
//   dotnet run --project Bench -- --url http://host:8008            measure a server that is already running
//   dotnet run --project Bench -- --start monolith|cluster|both      start this repository's server shapes and compare
// Options: --scenarios send,delivery,initial_sync,fan_out,federation_send (default all but federation_send, which needs --start and
// plays --fed-origins remote servers sending --fed-pdus PDUs into one room, then into --fed-rooms rooms; with --start cluster also failover_kill or
// failover_freeze, which take silo1 down under load and leave it down, or scale_out, which adds silo3 under load; each goes last and alone), --messages N, --senders N, --rooms N,
// --fanout-members N, --delivery-rate N, --delivery-seconds N, --drain-seconds N (how long to wait for late
// messages after the last send; later ones count as missing), --pgbench-seconds N (0 skips), --out DIR (report,
// JSON lines and chart; default .tmp/bench/report).
var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: Bench (--url <homeserver> | --start monolith|cluster|both) [--scenarios a,b] [--messages N] [--senders N] " +
        "[--rooms N] [--fed-origins N] [--fed-rooms N] [--fed-pdus N] [--fanout-members N] [--delivery-rate N] [--delivery-seconds N] [--drain-seconds N] [--pgbench-seconds N] [--out DIR]");
    return 2;
}
var repository = Repository.Root;
Directory.CreateDirectory(options.Out);
var results = new List<ScenarioResult>();
var resources = new List<(string Shape, ProcessResources.Sample AtRest, ProcessResources.Sample After, int Processes)>();
IReadOnlyDictionary<string, double>? pgbench = null;

foreach (var shape in options.Shapes)
{
    AnsiConsole.MarkupLine($"[bold]{(shape is null ? options.Url : shape.ToString())}[/]");
    ServerLauncher? launcher = null;
    try
    {
        if (shape is { } s)
        {
            launcher = new ServerLauncher(repository, s);
            await AnsiConsole.Status().StartAsync($"starting the {s} (build, PostgreSQL, processes) ...", _ => launcher.StartAsync(CancellationToken.None));
            await Task.Delay(TimeSpan.FromSeconds(3));
        }
        var server = launcher is null ? new Uri(options.Url!) : ServerLauncher.Address;
        var shapeName = shape?.ToString().ToLowerInvariant() ?? server.Authority;
        var atRest = launcher is null ? null : ProcessResources.Read(launcher.ServerProcesses());

        await AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("setting up");
                void Progress(string what, double percent)
                {
                    task.Description = what;
                    task.Value = Math.Min(100, percent);
                }
                var scenarios = new Scenarios(server, shapeName, options.Sizes, Progress);
                foreach (var name in options.Scenarios)
                {
                    if (name == "federation_send")
                    {
                        // Bench plays other homeservers, which the server must trust (the run's CA) and be let reach (loopback).
                        if (launcher is null) throw new ArgumentException("The federation_send scenario needs --start: the server must trust Bench's CA.");
                        var target = new FederationTarget(launcher.FederationAddress, launcher.Ca.TrustingHandler(), launcher.Ca.IssueForLoopback(), launcher.CpuSeconds);
                        foreach (var r in await new FederationSendScenario(server, target, shapeName, options.Sizes, Progress).RunAsync())
                        {
                            results.Add(r);
                            Console.Out.WriteLine(JsonLine(r));
                        }
                        continue;
                    }
                    var result = name switch
                    {
                        "send" => await scenarios.SendAsync(),
                        "delivery" => await scenarios.DeliveryAsync(),
                        "initial_sync" => await scenarios.InitialSyncAsync(),
                        "fan_out" => await scenarios.FanOutAsync(),
                        "failover_kill" or "failover_freeze" or "scale_out" when launcher is null || options.Shapes[0] != ServerShape.Cluster =>
                            throw new ArgumentException("The failover and scale-out scenarios need --start cluster."),
                        "scale_out" => await ScaleOutAsync(),
                        "failover_kill" => await new FailoverScenario(server, shapeName, 8, TimeSpan.FromSeconds(20), Progress)
                            .RunAsync(name, () => launcher!.SignalSiloAsync("silo1", "KILL"), null),
                        "failover_freeze" => await FreezeAsync(),

                        _ => throw new ArgumentException($"Unknown scenario {name}."),
                    };

                    // silo3 joins under load: nothing may be lost or doubled, and rooms created afterwards may be written by it.
                    async Task<ScenarioResult> ScaleOutAsync()
                    {
                        var added = await new FailoverScenario(server, shapeName, 8, TimeSpan.FromSeconds(20), Progress)
                            .RunAsync(name, () => launcher!.AddSiloAsync("silo3"), null);
                        var writers = await new FailoverScenario(server, shapeName, 12, TimeSpan.Zero, Progress).NewRoomWritersAsync(launcher!);
                        return added with { Figures = new Dictionary<string, double>(added.Figures)
                        {
                            ["new_rooms"] = writers.Values.Sum(), ["new_rooms_on_silo3"] = writers.GetValueOrDefault("silo3"),
                        } };
                    }

                    async Task<ScenarioResult> FreezeAsync()
                    {
                        var frozen = await new FailoverScenario(server, shapeName, 8, TimeSpan.FromSeconds(30), Progress)
                            .RunAsync(name, () => launcher!.SignalSiloAsync("silo1", "STOP"), () => launcher!.SignalSiloAsync("silo1", "CONT"));
                        // Declared dead while frozen, it must stop itself once it wakes, writing nothing (unacked_extra says so).
                        var exited = false;
                        for (var i = 0; i < 60 && !exited; i++)
                        {
                            exited = !launcher!.SiloRuns("silo1");
                            if (!exited) await Task.Delay(500);
                        }
                        return frozen with { Figures = new Dictionary<string, double>(frozen.Figures) { ["woken_silo_stopped"] = exited ? 1 : 0 } };
                    }
                    results.Add(result);
                    Console.Out.WriteLine(JsonLine(result));
                }
                task.Value = 100;
            });

        if (launcher is not null)
        {
            var pids = launcher.ServerProcesses();
            resources.Add((shapeName, atRest!, ProcessResources.Read(pids), pids.Count));
            if (options.PgBenchSeconds > 0 && pgbench is null)
            {
                pgbench = await AnsiConsole.Status().StartAsync("pgbench: PostgreSQL's commit limit ...",
                    _ => PgBench.MeasureAsync(launcher.PostgresSocketDirectory, options.PgBenchSeconds));
                Console.Out.WriteLine(JsonSerializer.Serialize(new { scenario = "pgbench", figures = pgbench }));
            }
        }
    }
    finally
    {
        if (launcher is not null) await AnsiConsole.Status().StartAsync("stopping ...", async _ => await launcher.DisposeAsync());
    }
}

var table = new Table().AddColumns("scenario", "shape", "figures");
foreach (var r in results) table.AddRow(r.Scenario, r.Shape, string.Join(", ", r.Figures.Select(f => $"{f.Key} {Format(f.Value)}")));
foreach (var (shape, rest, after, count) in resources)
{
    table.AddRow("resources", shape, $"processes {count}, RSS at rest {rest.RssMegabytes:F0} MB, after {after.RssMegabytes:F0} MB, CPU {after.CpuSeconds:F1} s");
}
if (pgbench is not null) table.AddRow("pgbench", "PostgreSQL", string.Join(", ", pgbench.Select(f => $"{f.Key} {Format(f.Value)}")));
AnsiConsole.Write(table);

var markdown = Report(results, resources, pgbench, options);
await File.WriteAllTextAsync(Path.Combine(options.Out, "report.md"), markdown);
await File.WriteAllLinesAsync(Path.Combine(options.Out, "results.jsonl"), results.Select(JsonLine));
var chart = results.Where(r => r.Latency is { Count: > 0 })
    .Select(r => ($"{r.Scenario} {r.Shape}{(r.Scenario == "federation_send" ? $" {r.Figures["rooms"]} rooms" : "")}", r.Latency!.Sorted())).ToList();
await File.WriteAllBytesAsync(Path.Combine(options.Out, "latency.png"), PngChart.Render(chart));
AnsiConsole.MarkupLine($"Report, JSON lines and chart in [bold]{options.Out}[/].");
return 0;

static string Format(double value) => double.IsNaN(value) ? "-" : value >= 100 ? value.ToString("F0", CultureInfo.InvariantCulture) : value.ToString("0.##", CultureInfo.InvariantCulture);

static string JsonLine(ScenarioResult r) => JsonSerializer.Serialize(new
{
    scenario = r.Scenario, shape = r.Shape, figures = r.Figures.ToDictionary(f => f.Key, f => double.IsNaN(f.Value) ? (double?)null : Math.Round(f.Value, 2)),
});

static string Report(List<ScenarioResult> results, List<(string Shape, ProcessResources.Sample AtRest, ProcessResources.Sample After, int Processes)> resources,
    IReadOnlyDictionary<string, double>? pgbench, Options options)
{
    var text = new StringBuilder();
    text.AppendLine(CultureInfo.InvariantCulture, $"Run of {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: `Bench {string.Join(' ', options.Arguments)}`");
    text.AppendLine();
    foreach (var scenario in results.GroupBy(r => r.Scenario))
    {
        var keys = scenario.SelectMany(r => r.Figures.Keys).Distinct().ToList();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{scenario.Key}**");
        text.AppendLine();
        text.AppendLine("| shape | " + string.Join(" | ", keys) + " |");
        text.AppendLine("|---|" + string.Concat(keys.Select(_ => "---|")));
        foreach (var r in scenario) text.AppendLine($"| {r.Shape} | " + string.Join(" | ", keys.Select(k => Format(r.Figures.GetValueOrDefault(k, double.NaN)))) + " |");
        text.AppendLine();
    }
    if (resources.Count > 0)
    {
        text.AppendLine("**resources** (homeserver processes, from /proc)");
        text.AppendLine();
        text.AppendLine("| shape | processes | RSS at rest MB | RSS after MB | CPU seconds |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var (shape, rest, after, count) in resources)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {shape} | {count} | {rest.RssMegabytes:F0} | {after.RssMegabytes:F0} | {after.CpuSeconds:F1} |");
        }
        text.AppendLine();
    }
    if (pgbench is not null)
    {
        text.AppendLine("**PostgreSQL commit limit** (pgbench, one INSERT per transaction, same cluster and run)");
        text.AppendLine();
        text.AppendLine("| clients | inserts/s |");
        text.AppendLine("|---|---|");
        foreach (var (key, value) in pgbench) text.AppendLine(CultureInfo.InvariantCulture, $"| {key.Split('_')[3]} | {value:F0} |");
        var send = results.Where(r => r.Scenario == "send").ToList();
        if (pgbench.TryGetValue("inserts_per_s_32_clients", out var limit))
        {
            foreach (var r in send) text.AppendLine(CultureInfo.InvariantCulture, $"\nsend ({r.Shape}): {r.Figures["sends_per_s"] / limit:P0} of pgbench's 32-client INSERT rate.");
        }
        text.AppendLine();
    }
    return text.ToString();
}


internal sealed record Options(string? Url, IReadOnlyList<ServerShape?> Shapes, IReadOnlyList<string> Scenarios, BenchSizes Sizes, int PgBenchSeconds,
    string Out, string[] Arguments)
{
    private static readonly string[] AllScenarios = ["send", "delivery", "initial_sync", "fan_out"];
    private static readonly string[] OtherScenarios = ["failover_kill", "failover_freeze", "scale_out", "federation_send"];

    public static Options? Parse(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => Value(name) is { } v && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : fallback;
        var url = Value("--url");
        IReadOnlyList<ServerShape?> shapes = Value("--start") switch
        {
            null when url is not null => [null],
            "monolith" => [ServerShape.Monolith],
            "cluster" => [ServerShape.Cluster],
            "both" => [ServerShape.Monolith, ServerShape.Cluster],
            _ => [],
        };
        if (shapes.Count == 0) return null;
        var scenarios = Value("--scenarios")?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? AllScenarios;
        if (scenarios.Any(s => !AllScenarios.Contains(s) && !OtherScenarios.Contains(s))) return null;
        var defaults = new BenchSizes();
        var sizes = defaults with
        {
            Messages = Int("--messages", defaults.Messages), Senders = Int("--senders", defaults.Senders), Rooms = Int("--rooms", defaults.Rooms),
            FanOutMembers = Int("--fanout-members", defaults.FanOutMembers), DeliveryRate = Int("--delivery-rate", defaults.DeliveryRate),
            DeliverySeconds = Int("--delivery-seconds", defaults.DeliverySeconds), DrainSeconds = Int("--drain-seconds", defaults.DrainSeconds),
            FederationOrigins = Int("--fed-origins", defaults.FederationOrigins), FederationRooms = Int("--fed-rooms", defaults.FederationRooms),
            FederationPdus = Int("--fed-pdus", defaults.FederationPdus),
        };
        return new Options(url, shapes, scenarios, sizes, Int("--pgbench-seconds", 10),
            Value("--out") ?? Path.Combine(Repository.Root, ".tmp", "bench", "report"), args);
    }

}

/// <summary>The checkout Bench runs from: its scripts start the servers.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "orleans.sln"))) directory = directory.Parent;
        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}
