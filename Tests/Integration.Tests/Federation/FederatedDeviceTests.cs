using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Federation;
using Npgsql;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// To-device messages and device lists between two instances of this server: a message for a server that is down
/// waits in the sender's PostgreSQL outbox, through a restart of the sending silo, and arrives once the server is
/// back; device-list updates build the other server's copy of a user's list, first by resync, then in sequence.
/// </summary>
public sealed class FederatedDeviceTests(TwoHomeserversFixture servers) : IClassFixture<TwoHomeserversFixture>
{
    private async Task<(MatrixClient Alice, MatrixClient Bob)> SharedRoomAsync()
    {
        var bob = await servers.Second.NewUserAsync();
        var roomId = await bob.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var alice = await servers.First.NewUserAsync();
        await alice.JoinAsync(roomId);
        return (alice, bob);
    }

    private static JsonArray ToDevice(JsonObject sync) => sync["to_device"]?["events"] as JsonArray ?? [];

    [Fact]
    public async Task A_to_device_message_for_a_server_that_is_down_arrives_after_it_is_back_though_the_sending_silo_restarted()
    {
        var (alice, bob) = await SharedRoomAsync();
        var bobSince = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var first = servers.First.Cluster;

        await servers.Second.CutFederationAsync();
        var (status, _) = await alice.PutAsync($"/_matrix/client/v3/sendToDevice/m.room_key_request/{Guid.NewGuid():N}", new JsonObject
        {
            ["messages"] = new JsonObject { [bob.UserId] = new JsonObject { [bob.DeviceId] = new JsonObject { ["hello"] = "after the outage" } } },
        });
        status.Should().Be(200);
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                return (await first.GrainFactory.GetGrain<IFederationSenderGrain>(servers.Second.ServerName).GetStatusAsync()).BackingOff;
            }
            catch (Exception e) when (e is not TimeoutException)
            {
                return false;
            }
        }, "the first server to back off from the second");
        (await OutboxRowsAsync(first.ConnectionString, servers.Second.ServerName)).Should().Be(1, "the message waits in PostgreSQL");

        await first.KillSiloAsync(first.Silos[0]);
        await first.RestartSiloAsync(first.Silos[0]);
        await servers.Second.RestoreFederationAsync();

        var got = await bob.SyncUntilAsync(bobSince, s => ToDevice(s).Count > 0);
        var message = ToDevice(got).OfType<JsonObject>().Single();
        message["sender"]!.GetValue<string>().Should().Be(alice.UserId);
        message["content"]!["hello"]!.GetValue<string>().Should().Be("after the outage");
        await Eventually.WaitUntilAsync(async () => await OutboxRowsAsync(first.ConnectionString, servers.Second.ServerName) == 0,
            "the delivered message to leave the outbox");
        // The first server's API host reconnects to the restarted silo in its own time; the tests after this one need it.
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                using var _ = await servers.First.NewUserAsync();
                return true;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }, "the first server to serve registrations again");
    }

    [Fact]
    public async Task Device_list_updates_build_the_other_servers_copy_first_by_resync_then_in_sequence()
    {
        var (_, bob) = await SharedRoomAsync();
        (await bob.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(bob) })).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(async () => (await CachedDevicesAsync(bob.UserId)).SequenceEqual([bob.DeviceId]), "the resync of bob's list");

        using var second = new MatrixClient(servers.Second.ClientAddress);
        await second.LoginAsync(bob.UserId, "pw");
        (await second.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(second) })).Status.Should().Be(200);
        var expected = new[] { bob.DeviceId, second.DeviceId }.Order(StringComparer.Ordinal).ToList();
        await Eventually.WaitUntilAsync(async () => (await CachedDevicesAsync(bob.UserId)).SequenceEqual(expected), "the second device");

        // The first server follows the chain the second one keeps for it.
        var chain = (long)(await ScalarAsync(servers.Second.Cluster.ConnectionString,
            "SELECT stream_id FROM device_list_federation_chain WHERE destination = $1 AND user_id = $2", servers.First.ServerName, bob.UserId))!;
        await Eventually.WaitUntilAsync(async () => await ScalarAsync(servers.First.Cluster.ConnectionString,
            "SELECT stream_id FROM device_lists_remote_extremities WHERE user_id = $1", bob.UserId) as long? == chain, "the extremity to reach the chain");
    }

    private static JsonObject DeviceKeys(MatrixClient c) => new()
    {
        ["user_id"] = c.UserId,
        ["device_id"] = c.DeviceId,
        ["algorithms"] = new JsonArray("m.olm.v1.curve25519-aes-sha2"),
        ["keys"] = new JsonObject { [$"curve25519:{c.DeviceId}"] = "curve", [$"ed25519:{c.DeviceId}"] = "ed" },
    };

    private async Task<IReadOnlyList<string>> CachedDevicesAsync(string userId)
    {
        await using var connection = new NpgsqlConnection(servers.First.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT device_id FROM device_lists_remote_cache WHERE user_id = $1 ORDER BY device_id COLLATE \"C\"", connection);
        command.Parameters.Add(new() { Value = userId });
        var devices = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) devices.Add(reader.GetString(0));
        return devices;
    }

    private static async Task<long> OutboxRowsAsync(string connectionString, string destination) =>
        (long)(await ScalarAsync(connectionString, "SELECT count(*) FROM device_federation_outbox WHERE destination = $1", destination))!;

    private static async Task<object?> ScalarAsync(string connectionString, string sql, params string[] values)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values) command.Parameters.Add(new() { Value = value });
        return await command.ExecuteScalarAsync();
    }
}
