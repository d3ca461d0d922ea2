using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Tests.Integration.Cluster;
using Xunit.Abstractions;

namespace Homeserver.Tests.Integration;

/// <summary>
/// One silo and one API host without a public_baseurl. The other fixtures name https://matrix.test.local,
/// which /.well-known/matrix/client hands out and which a browser client follows (Hydrogen looks it up
/// before anything else) to a host that does not exist here; without one that answers 404, and the
/// client keeps the URL it was given, as with a homeserver reached directly.
/// </summary>
public sealed class HydrogenClusterFixture : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions { InitialSilosCount = 1, PublicBaseUrl = null });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// A real browser client: the Hydrogen web app (npm hydrogen-view-sdk), served from another loopback
/// origin than the homeserver's so every call goes through CORS, in Debian's headless Chromium driven by
/// puppeteer-core (Tests/EndToEnd/hydrogen). It logs in as a user registered here, creates a room, sends
/// a message and must show it as sent in its timeline; the room's history over HTTP must then hold it.
/// </summary>
public sealed class HydrogenBrowserTests(HydrogenClusterFixture fixture, ITestOutputHelper log) : IClassFixture<HydrogenClusterFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Hydrogen_in_chromium_logs_in_creates_a_room_and_shows_its_sent_message()
    {
        var directory = Path.Combine(RepositoryPaths.Root, "Tests", "EndToEnd", "hydrogen");
        Directory.Exists(Path.Combine(directory, "node_modules", "hydrogen-view-sdk")).Should().BeTrue(
            "scripts/test installs Hydrogen and puppeteer-core with npm ci in Tests/EndToEnd/hydrogen");
        File.Exists("/usr/bin/chromium").Should().BeTrue("scripts/test installs Debian's chromium");

        var baseAddress = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var user = new MatrixClient(baseAddress);
        var name = MatrixClient.NewUserName();
        const string password = "hydrogen-browser-pw";
        await user.RegisterAsync(name, password);
        var roomName = $"Hydrogen room {Guid.NewGuid():N}"[..24];
        var message = $"hello from Hydrogen {Guid.NewGuid():N}";

        var started = Stopwatch.StartNew();
        var output = await RunBrowserAsync(directory, baseAddress.ToString().TrimEnd('/'), name, password, roomName, message);
        log.WriteLine($"The browser run took {started.Elapsed.TotalSeconds:F1} s:\n{output}");

        var result = JsonNode.Parse(output.Split('\n').Single(line => line.StartsWith("RESULT ", StringComparison.Ordinal))["RESULT ".Length..])!;
        result["tile"]!.GetValue<string>().Should().Contain(message, "the timeline in the page shows the sent message");
        result["preflights"]!.GetValue<int>().Should().BePositive("the app's origin differs from the homeserver's, so Chromium asks CORS first");
        var roomId = result["roomId"]!.GetValue<string>();

        var (joinedStatus, joined) = await user.GetAsync("/_matrix/client/v3/joined_rooms");
        joinedStatus.Should().Be(200);
        joined["joined_rooms"]!.AsArray().Select(room => room!.GetValue<string>()).Should().Contain(roomId);
        var (status, messages) = await user.GetAsync($"/_matrix/client/v3/rooms/{roomId}/messages?dir=b&limit=50");
        status.Should().Be(200, messages.ToJsonString());
        var sent = messages["chunk"]!.AsArray()
            .Where(e => e!["type"]!.GetValue<string>() == "m.room.message")
            .Select(e => (Sender: e!["sender"]!.GetValue<string>(), Body: e["content"]?["body"]?.GetValue<string>()));
        sent.Should().Contain((user.UserId, message), $"Hydrogen sent it into {roomId}");
        var (nameStatus, nameState) = await user.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.name");
        nameStatus.Should().Be(200, nameState.ToJsonString());
        nameState["name"]!.GetValue<string>().Should().Be(roomName);
    }

    /// <summary>Runs hydrogen.mjs; its output on success, or a failed assertion carrying all of it.</summary>
    private static async Task<string> RunBrowserAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("node", ["hydrogen.mjs", .. arguments])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PUPPETEER_SKIP_DOWNLOAD"] = "1";
        using var node = Process.Start(start)!;
        var output = new StringBuilder();
        node.OutputDataReceived += (_, line) => { if (line.Data is not null) lock (output) output.AppendLine(line.Data); };
        node.ErrorDataReceived += (_, line) => { if (line.Data is not null) lock (output) output.AppendLine(line.Data); };
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        var timedOut = false;
        try
        {
            await node.WaitForExitAsync().WaitAsync(Limit);
        }
        catch (TimeoutException)
        {
            timedOut = true;
            node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
        }
        node.WaitForExit(); // drains the redirected output
        string text;
        lock (output) text = output.ToString();
        timedOut.Should().BeFalse($"the browser run must end within {Limit}; it said:\n{text}");
        node.ExitCode.Should().Be(0, $"Hydrogen in Chromium said:\n{text}");
        return text;
    }
}
