using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration;

/// <summary>/keys, /sendToDevice and /room_keys over HTTP on the two-silo cluster, with what /sync reports about them.</summary>
public sealed class EndToEndKeysApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    private static JsonObject DeviceKeys(MatrixClient c) => new()
    {
        ["user_id"] = c.UserId,
        ["device_id"] = c.DeviceId,
        ["algorithms"] = new JsonArray("m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"),
        ["keys"] = new JsonObject { [$"curve25519:{c.DeviceId}"] = "curve" + c.DeviceId, [$"ed25519:{c.DeviceId}"] = "ed" + c.DeviceId },
        ["signatures"] = new JsonObject { [c.UserId] = new JsonObject { [$"ed25519:{c.DeviceId}"] = "sig" } },
    };

    [Fact]
    public async Task Uploaded_keys_are_queried_claimed_once_then_the_fallback_and_counted_in_sync()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);
        // Start from a token past both joins, so a device-list change after it can only come from the keys.
        bool HasOwnJoin(JsonObject b) => b["rooms"]!["join"]![room]?["timeline"]!["events"]!.AsArray()
            .Any(e => e!["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == bob.UserId) ?? false;
        var initial = await bob.SyncAsync();
        var bobSince = (HasOwnJoin(initial) ? initial : await bob.SyncUntilAsync(initial["next_batch"]!.GetValue<string>(), HasOwnJoin))["next_batch"]!
            .GetValue<string>();

        var (status, upload) = await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject
        {
            ["device_keys"] = DeviceKeys(alice),
            ["one_time_keys"] = new JsonObject
            {
                ["signed_curve25519:AAAA"] = new JsonObject { ["key"] = "otk1" },
                ["signed_curve25519:AAAB"] = new JsonObject { ["key"] = "otk2" },
            },
            ["fallback_keys"] = new JsonObject { ["signed_curve25519:FFFF"] = new JsonObject { ["key"] = "fallback", ["fallback"] = true } },
        });
        status.Should().Be(200);
        upload["one_time_key_counts"]!["signed_curve25519"]!.GetValue<int>().Should().Be(2);

        // Bob shares a room with Alice: her new device keys show up as a device-list change.
        var changed = await bob.SyncUntilAsync(bobSince, b => b["device_lists"]!["changed"]!.AsArray().Any(u => u!.GetValue<string>() == alice.UserId));
        var changes = (await bob.GetAsync($"/_matrix/client/v3/keys/changes?from={bobSince}&to={changed["next_batch"]}")).Body;
        changes["changed"]!.AsArray().Select(u => u!.GetValue<string>()).Should().Contain(alice.UserId, $"from {bobSince} to {changed["next_batch"]}: {changed.ToJsonString()}");

        var query = (await bob.PostAsync("/_matrix/client/v3/keys/query", new JsonObject { ["device_keys"] = new JsonObject { [alice.UserId] = new JsonArray() } })).Body;
        var device = query["device_keys"]![alice.UserId]![alice.DeviceId]!;
        device["keys"]![$"ed25519:{alice.DeviceId}"]!.GetValue<string>().Should().Be("ed" + alice.DeviceId);

        var claims = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var claimed = (await bob.PostAsync("/_matrix/client/v3/keys/claim", new JsonObject
            {
                ["one_time_keys"] = new JsonObject { [alice.UserId] = new JsonObject { [alice.DeviceId] = "signed_curve25519" } },
            })).Body["one_time_keys"]![alice.UserId]![alice.DeviceId]!.AsObject();
            claims.Add(claimed.Single().Key);
        }
        claims.Should().Equal("signed_curve25519:AAAA", "signed_curve25519:AAAB", "signed_curve25519:FFFF", "signed_curve25519:FFFF");

        var aliceSync = await alice.SyncAsync();
        aliceSync["device_one_time_keys_count"]!["signed_curve25519"]!.GetValue<int>().Should().Be(0);
        aliceSync["device_unused_fallback_key_types"]!.AsArray().Should().BeEmpty("the fallback key was used");
    }

    [Fact]
    public async Task Bad_key_uploads_are_refused_with_matrix_errors()
    {
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var wrongDevice = DeviceKeys(alice);
        wrongDevice["device_id"] = "SOMEONEELSE";
        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = wrongDevice })).Body["errcode"]!
            .GetValue<string>().Should().Be("M_INVALID_PARAM");
        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["one_time_keys"] = new JsonObject { ["nocolon"] = "x" } })).Status
            .Should().Be(400);
        (await alice.PostAsync("/_matrix/client/v3/keys/query", new JsonObject())).Body["errcode"]!.GetValue<string>().Should().Be("M_MISSING_PARAM");
        (await alice.PostAsync("/_matrix/client/v3/keys/device_signing/upload", new JsonObject
        {
            ["self_signing_key"] = new JsonObject { ["user_id"] = alice.UserId, ["usage"] = new JsonArray("self_signing"), ["keys"] = new JsonObject { ["ed25519:abc"] = "abc" } },
        })).Body["errcode"]!.GetValue<string>().Should().Be("M_INVALID_SIGNATURE", "a self-signing key needs a master key to sign it");
    }

    [Fact]
    public async Task To_device_messages_wait_until_the_device_acknowledges_them_and_a_retried_transaction_is_sent_once()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var start = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();

        var message = new JsonObject { ["messages"] = new JsonObject { [bob.UserId] = new JsonObject { [bob.DeviceId] = new JsonObject { ["n"] = 1 } } } };
        (await alice.PutAsync("/_matrix/client/v3/sendToDevice/m.test/txn1", message)).Status.Should().Be(200);
        (await alice.PutAsync("/_matrix/client/v3/sendToDevice/m.test/txn1", message)).Status.Should().Be(200);
        var everyDevice = new JsonObject { ["messages"] = new JsonObject { [bob.UserId] = new JsonObject { ["*"] = new JsonObject { ["n"] = 2 } } } };
        (await alice.PutAsync("/_matrix/client/v3/sendToDevice/m.test/txn2", everyDevice)).Status.Should().Be(200);

        // Poll from the same token (acknowledging nothing) until both messages are committed on every writer.
        var first = await bob.SyncAsync(start);
        for (var i = 0; i < 100 && first["to_device"]!["events"]!.AsArray().Count < 2; i++)
        {
            await Task.Delay(50);
            first = await bob.SyncAsync(start);
        }
        var events = first["to_device"]!["events"]!.AsArray();
        events.Select(e => e!["content"]!["n"]!.GetValue<int>()).Should().Equal(1, 2);
        events.Should().OnlyContain(e => e!["sender"]!.GetValue<string>() == alice.UserId && e["type"]!.GetValue<string>() == "m.test");

        // Not acknowledged yet: the same since delivers them again.
        (await bob.SyncAsync(start))["to_device"]!["events"]!.AsArray().Should().HaveCount(2);
        // Syncing from the new token acknowledges them: gone for good.
        var next = first["next_batch"]!.GetValue<string>();
        (await bob.SyncAsync(next))["to_device"]!["events"]!.AsArray().Should().BeEmpty();
        (await bob.SyncAsync(start))["to_device"]!["events"]!.AsArray().Should().BeEmpty();

        (await alice.PutAsync("/_matrix/client/v3/sendToDevice/m.test/txn3", new JsonObject { ["messages"] = new JsonObject { ["not-a-user"] = new JsonObject() } }))
            .Status.Should().Be(400);
    }

    [Fact]
    public async Task Key_backup_keeps_the_better_session_and_refuses_a_stale_version()
    {
        using var alice = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        (await alice.GetAsync("/_matrix/client/v3/room_keys/version")).Status.Should().Be(404);
        var authData = new JsonObject { ["public_key"] = "pk" };
        var v1 = (await alice.PostAsync("/_matrix/client/v3/room_keys/version", new JsonObject { ["algorithm"] = "m.megolm_backup.v1.curve25519-aes-sha2", ["auth_data"] = authData.DeepClone() })).Body["version"]!.GetValue<string>();

        JsonObject Session(int firstIndex, bool verified, string data) => new()
        {
            ["first_message_index"] = firstIndex, ["forwarded_count"] = 0, ["is_verified"] = verified, ["session_data"] = new JsonObject { ["ciphertext"] = data },
        };
        var put = await alice.PutAsync($"/_matrix/client/v3/room_keys/keys/!r:hs/s1?version={v1}", Session(5, false, "first"));
        put.Status.Should().Be(200);
        put.Body["count"]!.GetValue<int>().Should().Be(1);
        var etag = put.Body["etag"]!.GetValue<string>();
        // A worse copy (later first index) does not replace it; a better one (verified) does.
        await alice.PutAsync($"/_matrix/client/v3/room_keys/keys/!r:hs/s1?version={v1}", Session(9, false, "worse"));
        (await alice.GetAsync($"/_matrix/client/v3/room_keys/keys/!r:hs/s1?version={v1}")).Body["session_data"]!["ciphertext"]!.GetValue<string>().Should().Be("first");
        var better = await alice.PutAsync($"/_matrix/client/v3/room_keys/keys?version={v1}", new JsonObject
        {
            ["rooms"] = new JsonObject { ["!r:hs"] = new JsonObject { ["sessions"] = new JsonObject { ["s1"] = Session(7, true, "verified") } } },
        });
        better.Body["etag"]!.GetValue<string>().Should().NotBe(etag);
        (await alice.GetAsync($"/_matrix/client/v3/room_keys/keys?version={v1}")).Body["rooms"]!["!r:hs"]!["sessions"]!["s1"]!["session_data"]!["ciphertext"]!
            .GetValue<string>().Should().Be("verified");

        var v2 = (await alice.PostAsync("/_matrix/client/v3/room_keys/version", new JsonObject { ["algorithm"] = "m.megolm_backup.v1.curve25519-aes-sha2", ["auth_data"] = authData.DeepClone() })).Body["version"]!.GetValue<string>();
        var stale = await alice.PutAsync($"/_matrix/client/v3/room_keys/keys/!r:hs/s2?version={v1}", Session(0, false, "x"));
        stale.Status.Should().Be(403);
        stale.Body["errcode"]!.GetValue<string>().Should().Be("M_WRONG_ROOM_KEYS_VERSION");
        var current = (await alice.GetAsync("/_matrix/client/v3/room_keys/version")).Body;
        current["version"]!.GetValue<string>().Should().Be(v2);
        current["count"]!.GetValue<int>().Should().Be(0);

        (await alice.DeleteAsync($"/_matrix/client/v3/room_keys/version/{v2}")).Status.Should().Be(200);
        (await alice.GetAsync($"/_matrix/client/v3/room_keys/version/{v2}")).Status.Should().Be(404);
        (await alice.PutAsync($"/_matrix/client/v3/room_keys/keys/!r:hs/s1?version={v1}", new JsonObject { ["first_message_index"] = "x" })).Status.Should().Be(400);
    }

    private static List<string> Changed(JsonObject sync) =>
        sync["device_lists"]?["changed"]?.AsArray().Select(u => u!.GetValue<string>()).ToList() ?? [];

    [Fact]
    public async Task A_new_login_and_a_device_rename_change_the_device_list_for_peers_and_for_the_user()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        var aliceName = MatrixClient.NewUserName();
        await alice.RegisterAsync(aliceName, "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        await bob.JoinAsync(room);
        var bobToken = (await bob.SyncAsync())["next_batch"]!.GetValue<string>();
        var aliceToken = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();

        using var aliceLaptop = NewClient();
        await aliceLaptop.LoginAsync(aliceName, "pw");
        var bobSync = await bob.SyncUntilAsync(bobToken, s => Changed(s).Contains(alice.UserId!));
        var aliceSync = await alice.SyncUntilAsync(aliceToken, s => Changed(s).Contains(alice.UserId!));
        Changed(aliceSync).Should().Contain(alice.UserId!, "the user's own new device is in their own changed list");

        bobToken = bobSync["next_batch"]!.GetValue<string>();
        (await aliceLaptop.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/devices/{aliceLaptop.DeviceId}",
            new JsonObject { ["display_name"] = "laptop" }.ToJsonString())).Status.Should().Be(200);
        // A rename is news too: the display name is in what /keys/query answers.
        await bob.SyncUntilAsync(bobToken, s => Changed(s).Contains(alice.UserId!));
    }

    private static SigningKey CrossSigningKey()
    {
        var key = SigningKey.Generate();
        return SigningKey.FromSeed(key.Seed, key.PublicKeyBase64);
    }

    private static JsonObject CrossSigningPublicKey(string userId, string usage, SigningKey key) => new()
    {
        ["user_id"] = userId,
        ["usage"] = new JsonArray(usage),
        ["keys"] = new JsonObject { [key.KeyId] = key.PublicKeyBase64 },
    };

    [Fact]
    public async Task Cross_signing_keys_and_signatures_change_the_device_list_for_peers_and_the_user_and_keys_query_names_devices()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        await bob.JoinAsync(room);
        (await alice.PutAsync($"/_matrix/client/v3/devices/{alice.DeviceId}", new JsonObject { ["display_name"] = "Alice's phone" })).Status.Should().Be(200);
        (await alice.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(alice) })).Status.Should().Be(200);
        var query = (await bob.PostAsync("/_matrix/client/v3/keys/query", new JsonObject { ["device_keys"] = new JsonObject { [alice.UserId] = new JsonArray() } })).Body;
        query["device_keys"]![alice.UserId]![alice.DeviceId]!["unsigned"]!["device_display_name"]!.GetValue<string>().Should().Be("Alice's phone");

        async Task<(string Bob, string Alice)> TokensAsync() =>
            ((await bob.SyncAsync())["next_batch"]!.GetValue<string>(), (await alice.SyncAsync())["next_batch"]!.GetValue<string>());
        var (bobToken, aliceToken) = await TokensAsync();
        var master = CrossSigningKey();
        var selfSigning = CrossSigningKey();
        var selfSigningKey = CrossSigningPublicKey(alice.UserId, "self_signing", selfSigning);
        JsonSigning.Sign(selfSigningKey, alice.UserId, master);
        var userSigningKey = CrossSigningPublicKey(alice.UserId, "user_signing", CrossSigningKey());
        JsonSigning.Sign(userSigningKey, alice.UserId, master);
        var upload = await alice.PostAsync("/_matrix/client/v3/keys/device_signing/upload", new JsonObject
        {
            ["master_key"] = CrossSigningPublicKey(alice.UserId, "master", master),
            ["self_signing_key"] = selfSigningKey,
            ["user_signing_key"] = userSigningKey,
        });
        upload.Status.Should().Be(200, upload.Body.ToJsonString());
        var bobSync = await bob.SyncUntilAsync(bobToken, s => Changed(s).Contains(alice.UserId!));
        await alice.SyncUntilAsync(aliceToken, s => Changed(s).Contains(alice.UserId!));
        var changes = (await bob.GetAsync($"/_matrix/client/v3/keys/changes?from={Uri.EscapeDataString(bobToken)}&to={Uri.EscapeDataString(bobSync["next_batch"]!.GetValue<string>())}")).Body;
        changes["changed"]!.AsArray().Select(u => u!.GetValue<string>()).Should().Contain(alice.UserId!, "new cross-signing keys are a device-list change");

        (bobToken, aliceToken) = await TokensAsync();
        var signedDevice = DeviceKeys(alice);
        JsonSigning.Sign(signedDevice, alice.UserId, selfSigning);
        var signatures = await alice.PostAsync("/_matrix/client/v3/keys/signatures/upload",
            new JsonObject { [alice.UserId] = new JsonObject { [alice.DeviceId] = signedDevice } });
        signatures.Status.Should().Be(200);
        signatures.Body["failures"]!.AsObject().Should().BeEmpty(signatures.Body.ToJsonString());
        await bob.SyncUntilAsync(bobToken, s => Changed(s).Contains(alice.UserId!));
        await alice.SyncUntilAsync(aliceToken, s => Changed(s).Contains(alice.UserId!));
        query = (await bob.PostAsync("/_matrix/client/v3/keys/query", new JsonObject { ["device_keys"] = new JsonObject { [alice.UserId] = new JsonArray() } })).Body;
        query["master_keys"]![alice.UserId]!["keys"]![master.KeyId]!.GetValue<string>().Should().Be(master.PublicKeyBase64);
        JsonSigning.Verify(query["device_keys"]![alice.UserId]![alice.DeviceId]!.AsObject(), alice.UserId, selfSigning.KeyId, selfSigning.PublicKey)
            .Should().BeTrue("the self-signing signature is in the device's keys");
    }

    [Fact]
    public async Task Keys_changes_lists_newly_shared_users_as_changed_and_departed_ones_as_left()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        using var carol = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        await bob.JoinAsync(room);
        var from = (await alice.SyncAsync())["next_batch"]!.GetValue<string>();

        await carol.JoinAsync(room);
        (await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/leave", new JsonObject())).Status.Should().Be(200);
        var sync = await alice.SyncUntilAsync(from, s => s["device_lists"]?["left"]?.AsArray().Count > 0);
        sync["device_lists"]!["left"]!.AsArray().Select(u => u!.GetValue<string>()).Should().Equal(bob.UserId);
        Changed(sync).Should().Contain(carol.UserId!);
        var to = sync["next_batch"]!.GetValue<string>();

        var changes = await alice.GetAsync($"/_matrix/client/v3/keys/changes?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}");
        changes.Status.Should().Be(200);
        changes.Body["changed"]!.AsArray().Select(u => u!.GetValue<string>()).Should().Contain(carol.UserId!).And.NotContain(bob.UserId!);
        changes.Body["left"]!.AsArray().Select(u => u!.GetValue<string>()).Should().Equal(bob.UserId);
        (await alice.GetAsync("/_matrix/client/v3/keys/changes?from=nonsense&to=" + Uri.EscapeDataString(to))).Status.Should().Be(400);
    }
}
