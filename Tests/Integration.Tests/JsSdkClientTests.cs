using System.Diagnostics;

namespace Homeserver.Tests.Integration;

/// <summary>
/// matrix-js-sdk (a real client, from npm) against the test cluster: register, log in, create a
/// room, invite, join, chat, change profile; then both silos and the API host restart and the client checks that
/// nothing was lost and its transaction IDs are still idempotent.
/// </summary>
public sealed class JsSdkClientTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    [Fact]
    public async Task Matrix_js_sdk_chats_across_a_silo_restart()
    {
        var script = Path.Combine(RepositoryPaths.Root, "Tests", "EndToEnd", "js-sdk");
        Directory.Exists(Path.Combine(script, "node_modules", "matrix-js-sdk")).Should().BeTrue(
            "scripts/test installs matrix-js-sdk with npm ci in Tests/EndToEnd/js-sdk");
        var state = Path.Combine(Path.GetTempPath(), $"js-sdk-{Guid.NewGuid():N}.json");
        var baseUrl = fixture.Cluster.ApiHosts[0].BaseAddress.ToString().TrimEnd('/');
        try
        {
            await RunNodeAsync(script, baseUrl, "before", state);
            // The whole server restarts: both silos (grain memory) and the API host the client talks to.
            foreach (var silo in fixture.Cluster.Silos.ToList())
            {
                await fixture.Cluster.KillSiloAsync(silo);
                await fixture.Cluster.RestartSiloAsync(silo);
            }
            await fixture.Cluster.RestartApiHostAsync(fixture.Cluster.ApiHosts[0]);
            await RunNodeAsync(script, baseUrl, "after", state);
        }
        finally
        {
            File.Delete(state);
        }
    }

    [Fact]
    public async Task Matrix_js_sdk_sync_loop_receives_an_invite_and_a_message()
    {
        var script = Path.Combine(RepositoryPaths.Root, "Tests", "EndToEnd", "js-sdk");
        await RunNodeAsync(script, fixture.Cluster.ApiHosts[0].BaseAddress.ToString().TrimEnd('/'), "sync", "", "sync.mjs");
    }

    /// <summary>
    /// Rust crypto in matrix-js-sdk: cross-signing and key backup bootstrap, encrypted messages both
    /// ways, typing and a read receipt across clients, a second device of one user that gets the room
    /// key over to-device, and room keys in the server-side backup. The two users' grains and rooms
    /// spread over both silos.
    /// </summary>
    [Fact]
    public async Task Matrix_js_sdk_rust_crypto_exchanges_encrypted_messages()
    {
        var script = Path.Combine(RepositoryPaths.Root, "Tests", "EndToEnd", "js-sdk");
        await RunNodeAsync(script, fixture.Cluster.ApiHosts[0].BaseAddress.ToString().TrimEnd('/'), "e2ee", "", "e2ee.mjs");
    }

    internal static async Task RunNodeAsync(string directory, string baseUrl, string phase, string state, string scriptFile = "client-core.mjs",
        string? otherBaseUrl = null)
    {
        var start = new ProcessStartInfo("node", otherBaseUrl is null ? [scriptFile, baseUrl, phase, state] : [scriptFile, baseUrl, otherBaseUrl])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        node.ExitCode.Should().Be(0, $"matrix-js-sdk phase '{phase}' said: {await output}{await errors}");
    }

}
