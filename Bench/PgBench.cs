using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Homeserver.Bench;

/// <summary>
/// PostgreSQL's commit limit on this machine, measured by pgbench in the same run: one INSERT per
/// transaction, with 1 and 32 clients, against the server's own database cluster.
/// </summary>
public static partial class PgBench
{
    private const string PgBin = "/usr/lib/postgresql/15/bin";

    public static async Task<IReadOnlyDictionary<string, double>> MeasureAsync(string socketDirectory, int seconds)
    {
        await RunAsync($"{PgBin}/psql", "-h", socketDirectory, "-U", "postgres", "-d", "homeserver", "-qc",
            "CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, v integer NOT NULL)");
        var script = Path.Combine(Path.GetTempPath(), $"bench-insert-{Environment.ProcessId}.sql");
        await File.WriteAllTextAsync(script, "INSERT INTO bench_commits (v) VALUES (1);\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            var figures = new Dictionary<string, double>();
            foreach (var clients in new[] { 1, 32 })
            {
                var output = await RunAsync($"{PgBin}/pgbench", "-h", socketDirectory, "-U", "postgres", "-n", "-f", script,
                    "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, 2).ToString(CultureInfo.InvariantCulture),
                    "-T", seconds.ToString(CultureInfo.InvariantCulture), "homeserver");
                var tps = TpsPattern().Match(output);
                if (!tps.Success) throw new InvalidOperationException($"pgbench printed no tps: {output}");
                figures[$"inserts_per_s_{clients}_clients"] = double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            await RunAsync($"{PgBin}/psql", "-h", socketDirectory, "-U", "postgres", "-d", "homeserver", "-qc", "DROP TABLE bench_commits");
            return figures;
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>One query against the server's database, unaligned rows separated by '|'.</summary>
    public static Task<string> QueryAsync(string socketDirectory, string sql) =>
        RunAsync($"{PgBin}/psql", "-h", socketDirectory, "-U", "postgres", "-d", "homeserver", "-Atc", sql);

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        // PostgreSQL's tools run as the postgres user when Bench runs as root, as the scripts do.
        var asRoot = Environment.UserName == "root";
        var start = asRoot ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", program, .. args]) : new ProcessStartInfo(program, args);
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} failed: {await errors}");
        return await output + await errors;
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex TpsPattern();
}
