using System.Diagnostics;
using System.Globalization;
using Homeserver.Bench.Federation;

namespace Homeserver.Bench;

/// <summary>The server shapes Bench can start itself, from this repository's scripts.</summary>
public enum ServerShape
{
    Monolith,
    Cluster,
}

/// <summary>
/// Starts the homeserver with scripts/run (monolith) or scripts/cluster (two silos, two API hosts,
/// nginx), each in its own data folder under .tmp/bench, with rate limits lifted for load (the
/// overlay file below); both listen on http://127.0.0.1:8008. For the federation scenario the overlay also
/// trusts a CA made for the run (<c>federation_custom_ca_list</c>), lets loopback through
/// <c>ip_range_whitelist</c> (where Bench's fake servers live), and gives the monolith a TLS federation
/// listener on https://127.0.0.1:8448 with a certificate from that CA.
/// </summary>
public sealed class ServerLauncher(string repository, ServerShape shape) : IAsyncDisposable
{
    public static readonly Uri Address = new("http://127.0.0.1:8008");

    private const int FederationPort = 8448;

    private const string Overlay = """
        # Bench's overlay, read after homeserver.yaml: open registration and no rate limits, so the
        # figures measure the server, not its limiter. Cheap bcrypt: registering users is setup, not a figure.
        enable_registration: true
        bcrypt_rounds: 4
        rc_message: {per_second: 1000000, burst_count: 1000000}
        rc_registration: {per_second: 1000000, burst_count: 1000000}
        rc_login:
          address: {per_second: 1000000, burst_count: 1000000}
          account: {per_second: 1000000, burst_count: 1000000}
        rc_joins:
          local: {per_second: 1000000, burst_count: 1000000}
        rc_invites:
          per_room: {per_second: 1000000, burst_count: 1000000}
          per_user: {per_second: 1000000, burst_count: 1000000}
        # Federation with Bench's fake servers on 127.0.0.1, over HTTPS from the run's CA.
        ip_range_whitelist: [127.0.0.1]

        """;

    private Process? _monolith;

    /// <summary>The run's CA: the server trusts it, and it issues the certificates of Bench's fake remote servers.</summary>
    public RunCertificateAuthority Ca { get; } = new("Bench run CA");

    /// <summary>Where other servers reach the federation API: the monolith's TLS listener, or the cluster's proxy.</summary>
    public Uri FederationAddress => shape == ServerShape.Monolith ? new Uri($"https://127.0.0.1:{FederationPort}") : Address;

    public string DataDirectory { get; } = Path.Combine(repository, ".tmp", "bench", shape.ToString().ToLowerInvariant());

    /// <summary>The PostgreSQL socket folder the server's database listens on.</summary>
    public string PostgresSocketDirectory => Path.Combine(DataDirectory, "postgres");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        var overlay = Path.Combine(DataDirectory, "bench.yaml");
        await File.WriteAllTextAsync(overlay, Overlay + await FederationOverlayAsync(), cancellationToken);
        var start = Script(shape == ServerShape.Monolith ? "run" : "cluster", shape == ServerShape.Monolith ? [] : ["start"], overlay);
        if (shape == ServerShape.Monolith)
        {
            // The server's log goes to <data>/server.log, for when a figure needs explaining.
            start.RedirectStandardOutput = start.RedirectStandardError = true;
            _monolith = Process.Start(start)!;
            var log = new StreamWriter(Path.Combine(DataDirectory, "server.log")) { AutoFlush = true };
            _ = Task.WhenAll(CopyAsync(_monolith.StandardOutput, log), CopyAsync(_monolith.StandardError, log)).ContinueWith(_ => log.Dispose(), TaskScheduler.Default);
        }
        else
        {
            await RunToEndAsync(start, cancellationToken);
        }
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await http.GetAsync(new Uri(Address, "/_matrix/client/versions"), cancellationToken)).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            if (_monolith is { HasExited: true }) throw new InvalidOperationException($"scripts/run stopped with exit code {_monolith.ExitCode}.");
            await Task.Delay(250, cancellationToken);
        }
        throw new TimeoutException($"The {shape} did not answer on {Address} within 5 minutes.");
    }

    /// <summary>
    /// The CA file, and for the monolith its listeners: the generated client listener as it was (a later
    /// file replaces the whole <c>listeners</c> list) and a TLS federation listener. The cluster's API hosts
    /// take federation through nginx on 8008, as their worker files say.
    /// </summary>
    private async Task<string> FederationOverlayAsync()
    {
        var (ca, certificate, key) = await Ca.WritePemFilesAsync(Path.Combine(DataDirectory, "federation-tls"));
        var text = $"federation_custom_ca_list: ['{ca}']\n";
        if (shape != ServerShape.Monolith) return text;
        return text + $"""
            tls_certificate_path: '{certificate}'
            tls_private_key_path: '{key}'
            listeners:
              - port: {Address.Port}
                type: http
                tls: false
                x_forwarded: true
                bind_addresses: ['127.0.0.1']
                resources:
                  - names: [client, federation]
                    compress: false
              - port: {FederationPort}
                type: http
                tls: true
                bind_addresses: ['127.0.0.1']
                resources:
                  - names: [federation]

            """;
    }

    private static async Task CopyAsync(StreamReader from, StreamWriter to)
    {
        while (await from.ReadLineAsync() is { } line)
        {
            lock (to) to.WriteLine(line);
        }
    }

    /// <summary>Every server process of this run (dotnet Homeserver.dll from this data folder), by PID.</summary>
    public IReadOnlyList<int> ServerProcesses()
    {
        var marker = Path.Combine(DataDirectory, "bin", "Homeserver.dll");
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(marker, StringComparison.Ordinal) && !commandLine.Contains(" routes ", StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return pids;
    }

    /// <summary>CPU seconds so far of the server's processes and of its PostgreSQL (the postmaster, its live backends and those it has reaped).</summary>
    public (double Server, double Postgres) CpuSeconds()
    {
        var server = ProcessResources.Read(ServerProcesses()).CpuSeconds;
        var pidFile = Path.Combine(PostgresSocketDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)) return (server, double.NaN);
        var postmaster = int.Parse(File.ReadLines(pidFile).First().Trim(), CultureInfo.InvariantCulture);
        return (server, ProcessResources.CpuSecondsOfTree(postmaster));
    }

    public async ValueTask DisposeAsync()
    {
        Ca.Dispose();
        if (shape == ServerShape.Cluster)
        {
            await RunToEndAsync(Script("cluster", ["stop"], null), CancellationToken.None);
        }
        else if (_monolith is { HasExited: false })
        {
            // SIGTERM lets scripts/run stop the server and its PostgreSQL.
            using var kill = Process.Start("kill", ["-TERM", _monolith.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            await _monolith.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        }
    }

    /// <summary>Sends a signal (KILL, STOP, CONT) to one silo of the cluster, as an operator or a crash would.</summary>
    public async Task SignalSiloAsync(string silo, string signal)
    {
        if (shape != ServerShape.Cluster) throw new InvalidOperationException("Only the cluster has silos to disrupt.");
        var pid = (await File.ReadAllTextAsync(Path.Combine(DataDirectory, "cluster", silo + ".pid"))).Trim();
        using var kill = Process.Start("kill", [$"-{signal}", pid])!;
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {pid} ({silo}) failed.");
    }

    /// <summary>Starts one more silo with <c>scripts/cluster add-silo</c>, as an operator scaling out would.</summary>
    public Task AddSiloAsync(string silo)
    {
        if (shape != ServerShape.Cluster) throw new InvalidOperationException("Only the cluster takes more silos.");
        return RunToEndAsync(Script("cluster", ["add-silo", silo], Path.Combine(DataDirectory, "bench.yaml")), CancellationToken.None);
    }

    /// <summary>Whether the silo's process still runs (a frozen silo declared dead stops itself once it wakes).</summary>
    public bool SiloRuns(string silo)
    {
        var pidFile = Path.Combine(DataDirectory, "cluster", silo + ".pid");
        return File.Exists(pidFile) && Directory.Exists(Path.Combine("/proc", File.ReadAllText(pidFile).Trim()));
    }

    private ProcessStartInfo Script(string name, string[] args, string? overlay)
    {
        var start = new ProcessStartInfo(Path.Combine(repository, "scripts", name), args) { WorkingDirectory = repository };
        start.Environment["HOMESERVER_DATA"] = DataDirectory;
        if (overlay is not null) start.Environment["HOMESERVER_EXTRA_CONFIG"] = overlay;
        return start;
    }

    private static async Task RunToEndAsync(ProcessStartInfo start, CancellationToken cancellationToken)
    {
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0) throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} failed: {await errors}{await output}");
    }
}

/// <summary>RSS and CPU seconds of processes, read from /proc.</summary>
public static class ProcessResources
{
    public sealed record Sample(double RssMegabytes, double CpuSeconds);

    public static Sample Read(IEnumerable<int> pids)
    {
        double rss = 0, cpu = 0;
        var ticksPerSecond = 100.0; // USER_HZ on Linux
        foreach (var pid in pids)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        rss += double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                    }
                }
                // Fields after the command name (which may hold spaces) in /proc/pid/stat: utime is 14th, stime 15th overall.
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                cpu += (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / ticksPerSecond;
            }
            catch (IOException)
            {
            }
        }
        return new Sample(rss, cpu);
    }

    /// <summary>CPU seconds of a process, of the children it has waited for, and of its live children (PostgreSQL's backends).</summary>
    public static double CpuSecondsOfTree(int parent)
    {
        double total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var fields = StatFields(pid);
                // After the command name: ppid is the 4th field overall, utime 14th, stime 15th, cutime 16th, cstime 17th.
                if (pid == parent) total += (Tick(fields[11]) + Tick(fields[12]) + Tick(fields[13]) + Tick(fields[14])) / 100.0;
                else if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent) total += (Tick(fields[11]) + Tick(fields[12])) / 100.0;
            }
            catch (IOException)
            {
            }
        }
        return total;

        static double Tick(string field) => double.Parse(field, CultureInfo.InvariantCulture);
    }

    private static string[] StatFields(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }
}
