using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// <c>m.device_list_update</c> (server-server-api "Device Management") against a fake remote server with a user in
/// one of our rooms: ours carry a stream_id per update and a prev_id naming the update that server was sent before,
/// kept through a failing transaction; theirs are applied to our copy of the list in sequence, and one that does
/// not follow makes us fetch the whole list with /user/devices.
/// </summary>
public sealed class DeviceListFederationTests(FederationSenderFixture fixture) : IClassFixture<FederationSenderFixture>
{
    private const string DevicesPrefix = "/_matrix/federation/v1/user/devices/";

    private static JsonObject DeviceKeys(MatrixClient c, string variant = "") => new()
    {
        ["user_id"] = c.UserId,
        ["device_id"] = c.DeviceId,
        ["algorithms"] = new JsonArray("m.olm.v1.curve25519-aes-sha2"),
        ["keys"] = new JsonObject { [$"curve25519:{c.DeviceId}"] = "curve" + variant, [$"ed25519:{c.DeviceId}"] = "ed" + variant },
    };

    private static IEnumerable<JsonObject> DeviceListEdus(RemoteTransactions remote, int status = 200) =>
        remote.Received.Where(t => t.Status == status).SelectMany(t => t.Body["edus"]!.AsArray().OfType<JsonObject>())
            .Where(e => e["edu_type"]!.GetValue<string>() == "m.device_list_update").Select(e => e["content"]!.AsObject());

    /// <summary>Alice, in a public room with bob of a fake remote server whose received transactions are kept.</summary>
    private async Task<(RemoteTransactions Transactions, FakeServerKeys Keys, MatrixClient Alice)> AliceSharingARoomWithARemoteAsync()
    {
        var (remote, keys) = await fixture.NewRemote();
        var transactions = new RemoteTransactions(remote, keys.ServerName);
        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        await RemoteMember.JoinAsync(fixture.BaseAddress, keys, $"@bob:{keys.ServerName}", roomId);
        return (transactions, keys, alice);
    }

    [Fact]
    public async Task Our_updates_carry_a_stream_id_and_the_previous_updates_as_prev_id_through_a_failed_transaction()
    {
        var (transactions, keys, alice) = await AliceSharingARoomWithARemoteAsync();
        using var _ = alice;

        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(alice) })).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Any(), "the first update");
        var first = DeviceListEdus(transactions).Single();
        first["user_id"]!.GetValue<string>().Should().Be(alice.UserId);
        first["device_id"]!.GetValue<string>().Should().Be(alice.DeviceId);
        first["keys"]!["keys"]![$"ed25519:{alice.DeviceId}"]!.GetValue<string>().Should().Be("ed");
        first["prev_id"]!.AsArray().Should().BeEmpty("it is the first update this server was sent for alice");
        var firstId = first["stream_id"]!.GetValue<long>();

        // A login is announced as soon as it makes a device, before it has keys (as Synapse does).
        using var second = new MatrixClient(fixture.BaseAddress);
        await second.LoginAsync(alice.UserId, "pw");
        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Count() >= 2, "the new device's update");
        var login = DeviceListEdus(transactions).Last();
        login["device_id"]!.GetValue<string>().Should().Be(second.DeviceId);
        login["keys"].Should().BeNull("the device has no keys yet");

        // The next update fails; it waits in PostgreSQL through the backoff and keeps its prev_id.
        transactions.Status = 500;
        (await second.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(second) })).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions, 500).Any(), "the failing transaction");
        (await OutboxRowsAsync(keys.ServerName)).Should().Be(1, "the update stays queued until it is answered");
        transactions.Status = 200;
        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(alice, "-rotated") })).Status.Should().Be(200);

        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Count() >= 4, "the queued and the last update after the backoff");
        var updates = DeviceListEdus(transactions).ToList();
        updates.Should().HaveCount(4, "each update is sent once");
        updates.Select(u => u["device_id"]!.GetValue<string>()).Should().Equal(alice.DeviceId, second.DeviceId, second.DeviceId, alice.DeviceId);
        var ids = updates.Select(u => u["stream_id"]!.GetValue<long>()).ToList();
        ids.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        ids[0].Should().Be(firstId);
        for (var i = 1; i < updates.Count; i++)
        {
            updates[i]["prev_id"]!.AsArray().Select(p => p!.GetValue<long>()).Should().Equal([ids[i - 1]], "update {0} follows the one before", i);
        }
        await Eventually.WaitUntilAsync(async () => await OutboxRowsAsync(keys.ServerName) == 0, "the answered rows to be deleted");
    }

    [Fact]
    public async Task Signing_ones_own_device_and_master_key_is_announced_with_the_signatures()
    {
        var (transactions, keys, alice) = await AliceSharingARoomWithARemoteAsync();
        using var _ = alice;
        var deviceKey = Homeserver.Protocol.SigningKey.Generate();
        var device = DeviceKeys(alice);
        device["keys"]![$"ed25519:{alice.DeviceId}"] = deviceKey.PublicKeyBase64;
        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = device })).Status.Should().Be(200);
        static Homeserver.Protocol.SigningKey CrossSigning()
        {
            var key = Homeserver.Protocol.SigningKey.Generate();
            return Homeserver.Protocol.SigningKey.FromSeed(key.Seed, key.PublicKeyBase64);
        }
        var master = CrossSigning();
        var selfSigning = CrossSigning();
        JsonObject Public(string usage, Homeserver.Protocol.SigningKey key) => new()
        {
            ["user_id"] = alice.UserId, ["usage"] = new JsonArray(usage), ["keys"] = new JsonObject { [key.KeyId] = key.PublicKeyBase64 },
        };
        var selfSigningKey = Public("self_signing", selfSigning);
        Homeserver.Protocol.JsonSigning.Sign(selfSigningKey, alice.UserId, master);
        (await alice.PostAsync("/_matrix/client/v3/keys/device_signing/upload", new JsonObject
        {
            ["master_key"] = Public("master", master), ["self_signing_key"] = selfSigningKey,
        })).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Any(), "the device's first update");
        var before = DeviceListEdus(transactions).Count();

        var signedDevice = device.DeepClone().AsObject();
        Homeserver.Protocol.JsonSigning.Sign(signedDevice, alice.UserId, selfSigning);
        var signedMaster = Public("master", master);
        var deviceSigner = Homeserver.Protocol.SigningKey.FromSeed(deviceKey.Seed, alice.DeviceId);
        Homeserver.Protocol.JsonSigning.Sign(signedMaster, alice.UserId, deviceSigner);
        var signatures = await alice.PostAsync("/_matrix/client/v3/keys/signatures/upload", new JsonObject
        {
            [alice.UserId] = new JsonObject { [alice.DeviceId] = signedDevice, [master.PublicKeyBase64] = signedMaster },
        });
        signatures.Status.Should().Be(200);
        signatures.Body["failures"]!.AsObject().Should().BeEmpty(signatures.Body.ToJsonString());

        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Count() > before, "the signed device's update");
        var update = DeviceListEdus(transactions).Last();
        update["device_id"]!.GetValue<string>().Should().Be(alice.DeviceId);
        update["keys"]!["signatures"]![alice.UserId]![selfSigning.KeyId]!.GetValue<string>().Should().NotBeNullOrEmpty("the self-signing signature travels with the keys");
        await Eventually.WaitUntilAsync(() => transactions.Received.Where(t => t.Status == 200).SelectMany(t => t.Body["edus"]!.AsArray().OfType<JsonObject>())
            .Any(e => e["edu_type"]!.GetValue<string>() == "m.signing_key_update" &&
                      e["content"]?["master_key"]?["signatures"]?[alice.UserId]?[$"ed25519:{alice.DeviceId}"] is not null), "the signed master key");
    }

    [Fact]
    public async Task A_renamed_device_is_announced_with_its_keys_and_without_its_name()
    {
        var (transactions, keys, alice) = await AliceSharingARoomWithARemoteAsync();
        using var _ = alice;
        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(alice) })).Status.Should().Be(200);
        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Any(), "the keys' update");

        (await alice.PutAsync($"/_matrix/client/v3/devices/{alice.DeviceId}", new JsonObject { ["display_name"] = "Secret laptop name" })).Status.Should().Be(200);

        await Eventually.WaitUntilAsync(() => DeviceListEdus(transactions).Count() >= 2, "the rename's update");
        var rename = DeviceListEdus(transactions).Last();
        rename["device_id"]!.GetValue<string>().Should().Be(alice.DeviceId);
        rename["keys"]!["keys"]![$"ed25519:{alice.DeviceId}"]!.GetValue<string>().Should().Be("ed");
        rename["device_display_name"].Should().BeNull("Synapse shares device names over federation only with allow_device_name_lookup_over_federation");
    }

    [Fact]
    public async Task Their_updates_in_sequence_are_applied_and_a_gap_in_prev_id_makes_us_fetch_the_whole_list()
    {
        var (remote, keys) = await fixture.NewRemote();
        using var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var bob = $"@bob:{keys.ServerName}";
        await RemoteMember.JoinAsync(fixture.BaseAddress, keys, bob, roomId);
        var snapshot = new JsonObject { ["user_id"] = bob, ["stream_id"] = 5, ["devices"] = new JsonArray(Device("D1")) };
        var resyncs = new ConcurrentQueue<string>();
        remote.HandlePrefix(keys.ServerName, DevicesPrefix, async http =>
        {
            resyncs.Enqueue(http.Request.Path.Value!);
            await http.Response.WriteAsJsonAsync(snapshot);
        });
        JsonObject Update(string deviceId, long streamId, params long[] prev) => new()
        {
            ["edu_type"] = "m.device_list_update",
            ["content"] = new JsonObject
            {
                ["user_id"] = bob,
                ["device_id"] = deviceId,
                ["stream_id"] = streamId,
                ["prev_id"] = new JsonArray([.. prev.Select(p => JsonValue.Create(p))]),
                ["keys"] = Device(deviceId)["keys"]!.DeepClone(),
            },
        };

        // Never seen: the whole list is fetched.
        await RemoteMember.SendEdusAsync(fixture.BaseAddress, keys, Update("D1", 5));
        await Eventually.WaitUntilAsync(async () => await ExtremityAsync(bob) == 5, "the first resync");
        resyncs.Should().ContainSingle().Which.Should().Be(DevicesPrefix + bob);
        (await CachedDevicesAsync(bob)).Should().Equal("D1");

        // In sequence: applied as it is.
        await RemoteMember.SendEdusAsync(fixture.BaseAddress, keys, Update("D2", 6, 5));
        await Eventually.WaitUntilAsync(async () => await ExtremityAsync(bob) == 6, "the update to be applied");
        (await CachedDevicesAsync(bob)).Should().Equal("D1", "D2");
        resyncs.Should().HaveCount(1, "an update that follows the last one needs no resync");

        // Malformed updates are dropped without an error to the peer.
        await RemoteMember.SendEdusAsync(fixture.BaseAddress, keys,
            new JsonObject { ["edu_type"] = "m.device_list_update", ["content"] = new JsonObject { ["user_id"] = bob, ["device_id"] = "D9", ["stream_id"] = "x" } },
            new JsonObject { ["edu_type"] = "m.device_list_update", ["content"] = new JsonObject { ["user_id"] = bob, ["device_id"] = "D9", ["stream_id"] = 7, ["prev_id"] = "6" } });

        // prev_id 8 was never seen: an update was lost, so the list is fetched again and replaces ours.
        snapshot["stream_id"] = 9;
        snapshot["devices"] = new JsonArray(Device("D1"), Device("D3"));
        await RemoteMember.SendEdusAsync(fixture.BaseAddress, keys, Update("D3", 9, 8));
        await Eventually.WaitUntilAsync(async () => await ExtremityAsync(bob) == 9, "the resync after the gap");
        resyncs.Should().HaveCount(2);
        (await CachedDevicesAsync(bob)).Should().Equal("D1", "D3");
    }

    private static JsonObject Device(string deviceId) => new()
    {
        ["device_id"] = deviceId,
        ["keys"] = new JsonObject { ["device_id"] = deviceId, ["keys"] = new JsonObject { [$"ed25519:{deviceId}"] = "ed" + deviceId } },
    };

    private async Task<long> OutboxRowsAsync(string destination) =>
        (long)(await ScalarAsync("SELECT count(*) FROM device_list_federation_outbox WHERE destination = $1", destination))!;

    private async Task<long?> ExtremityAsync(string userId) =>
        await ScalarAsync("SELECT stream_id FROM device_lists_remote_extremities WHERE user_id = $1", userId) as long?;

    private async Task<IReadOnlyList<string>> CachedDevicesAsync(string userId)
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT device_id FROM device_lists_remote_cache WHERE user_id = $1 ORDER BY device_id", connection);
        command.Parameters.Add(new() { Value = userId });
        var devices = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) devices.Add(reader.GetString(0));
        return devices;
    }

    private async Task<object?> ScalarAsync(string sql, string value)
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new() { Value = value });
        return await command.ExecuteScalarAsync();
    }
}
