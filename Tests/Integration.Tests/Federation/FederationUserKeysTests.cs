using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Signed /user/devices, /user/keys/query and /user/keys/claim (server-server-api "End-to-End Encryption")
/// against a running server: every documented field, device names withheld, signatures merged, user-signing
/// keys private, one-time keys claimed once then the fallback key, and bad or foreign input refused as Synapse does.
/// </summary>
public sealed class FederationUserKeysTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    private const string Devices = "/_matrix/federation/v1/user/devices/";
    private const string Query = "/_matrix/federation/v1/user/keys/query";
    private const string Claim = "/_matrix/federation/v1/user/keys/claim";

    private sealed record Alice(MatrixClient Client, SigningKey Master, SigningKey SelfSigning) : IDisposable
    {
        public string UserId => Client.UserId;
        public string DeviceId => Client.DeviceId;
        public void Dispose() => Client.Dispose();
    }

    private static SigningKey CrossSigningKey()
    {
        var key = SigningKey.Generate();
        return SigningKey.FromSeed(key.Seed, key.PublicKeyBase64);
    }

    private static JsonObject PublicKey(string userId, string usage, SigningKey key) => new()
    {
        ["user_id"] = userId,
        ["usage"] = new JsonArray(usage),
        ["keys"] = new JsonObject { [key.KeyId] = key.PublicKeyBase64 },
    };

    private static JsonObject DeviceKeys(MatrixClient c) => new()
    {
        ["user_id"] = c.UserId,
        ["device_id"] = c.DeviceId,
        ["algorithms"] = new JsonArray("m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"),
        ["keys"] = new JsonObject { [$"curve25519:{c.DeviceId}"] = "curve" + c.DeviceId, [$"ed25519:{c.DeviceId}"] = "ed" + c.DeviceId },
    };

    /// <summary>A user with a named device, its keys signed by their self-signing key, two one-time keys and a fallback key, and all three cross-signing keys.</summary>
    private async Task<Alice> AliceAsync()
    {
        var client = new MatrixClient(fixture.BaseAddress);
        await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
        (await client.PutAsync($"/_matrix/client/v3/devices/{client.DeviceId}", new JsonObject { ["display_name"] = "Alice's phone" })).Status.Should().Be(200);
        (await client.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject
        {
            ["device_keys"] = DeviceKeys(client),
            ["one_time_keys"] = new JsonObject
            {
                ["signed_curve25519:AAAA"] = new JsonObject { ["key"] = "otk1" },
                ["signed_curve25519:AAAB"] = new JsonObject { ["key"] = "otk2" },
            },
            ["fallback_keys"] = new JsonObject { ["signed_curve25519:FFFF"] = new JsonObject { ["key"] = "fallback", ["fallback"] = true } },
        })).Status.Should().Be(200);
        var master = CrossSigningKey();
        var selfSigning = CrossSigningKey();
        var userSigning = CrossSigningKey();
        var selfSigningKey = PublicKey(client.UserId, "self_signing", selfSigning);
        JsonSigning.Sign(selfSigningKey, client.UserId, master);
        var userSigningKey = PublicKey(client.UserId, "user_signing", userSigning);
        JsonSigning.Sign(userSigningKey, client.UserId, master);
        var upload = await client.PostAsync("/_matrix/client/v3/keys/device_signing/upload", new JsonObject
        {
            ["master_key"] = PublicKey(client.UserId, "master", master),
            ["self_signing_key"] = selfSigningKey,
            ["user_signing_key"] = userSigningKey,
        });
        upload.Status.Should().Be(200, upload.Body.ToJsonString());
        var signedDevice = DeviceKeys(client);
        JsonSigning.Sign(signedDevice, client.UserId, selfSigning);
        var signatures = await client.PostAsync("/_matrix/client/v3/keys/signatures/upload",
            new JsonObject { [client.UserId] = new JsonObject { [client.DeviceId] = signedDevice } });
        signatures.Status.Should().Be(200);
        signatures.Body["failures"]!.AsObject().Should().BeEmpty(signatures.Body.ToJsonString());
        return new Alice(client, master, selfSigning);
    }

    private static string DevicesUri(string userId) => Devices + Uri.EscapeDataString(userId);

    [Fact]
    public async Task User_devices_gives_the_signed_device_keys_and_cross_signing_keys_without_device_names()
    {
        var (_, origin) = await fixture.NewRemote();
        using var alice = await AliceAsync();

        var (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Get, DevicesUri(alice.UserId));
        status.Should().Be(200, body.ToJsonString());
        body["user_id"]!.GetValue<string>().Should().Be(alice.UserId);
        var streamId = body["stream_id"]!.GetValue<long>();
        streamId.Should().BePositive();
        var device = body["devices"]!.AsArray().Single()!.AsObject();
        device["device_id"]!.GetValue<string>().Should().Be(alice.DeviceId);
        device.ContainsKey("device_display_name").Should().BeFalse("allow_device_name_lookup_over_federation is off, as in Synapse");
        var keys = device["keys"]!.AsObject();
        keys["keys"]![$"ed25519:{alice.DeviceId}"]!.GetValue<string>().Should().Be("ed" + alice.DeviceId);
        keys.ContainsKey("unsigned").Should().BeFalse();
        JsonSigning.Verify(keys, alice.UserId, alice.SelfSigning.KeyId, alice.SelfSigning.PublicKey).Should().BeTrue("the self-signing signature is merged in");
        body["master_key"]!["keys"]![alice.Master.KeyId]!.GetValue<string>().Should().Be(alice.Master.PublicKeyBase64);
        body["master_key"]!["usage"]!.AsArray().Single()!.GetValue<string>().Should().Be("master");
        var selfSigning = body["self_signing_key"]!.AsObject();
        JsonSigning.Verify(selfSigning, alice.UserId, alice.Master.KeyId, alice.Master.PublicKey).Should().BeTrue();
        body.ContainsKey("user_signing_key").Should().BeFalse("a user-signing key is private to its owner");

        // A new device changes the list, and the stream_id grows with it.
        using var second = new MatrixClient(fixture.BaseAddress);
        await second.LoginAsync(alice.UserId, "pw");
        (await second.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject { ["device_keys"] = DeviceKeys(second) })).Status.Should().Be(200);
        (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Get, DevicesUri(alice.UserId));
        status.Should().Be(200);
        body["stream_id"]!.GetValue<long>().Should().BeGreaterThan(streamId);
        body["devices"]!.AsArray().Select(d => d!["device_id"]!.GetValue<string>()).Should().BeEquivalentTo([alice.DeviceId, second.DeviceId]);
    }

    [Fact]
    public async Task User_devices_of_a_user_without_keys_is_an_empty_list_and_other_servers_users_are_400()
    {
        var (_, origin) = await fixture.NewRemote();
        var (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Get,
            DevicesUri($"@nobody{Guid.NewGuid():N}:{FederationClusterFixture.OurServerName}"));
        status.Should().Be(200, "Synapse answers for any local user ID");
        body["devices"]!.AsArray().Should().BeEmpty();
        body["stream_id"]!.GetValue<long>().Should().Be(0);
        body.ContainsKey("master_key").Should().BeFalse();
        body.ContainsKey("self_signing_key").Should().BeFalse();

        foreach (var (userId, errcode) in new[] { ("@someone:other.example", "M_INVALID_PARAM"), ("not-a-user", "M_INVALID_PARAM") })
        {
            (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Get, DevicesUri(userId));
            status.Should().Be(400, userId);
            body.ErrCode().Should().Be(errcode, userId);
        }
    }

    [Fact]
    public async Task Keys_query_answers_device_master_and_self_signing_keys_for_the_devices_asked()
    {
        var (_, origin) = await fixture.NewRemote();
        using var alice = await AliceAsync();
        var nobody = $"@nobody{Guid.NewGuid():N}:{FederationClusterFixture.OurServerName}";

        var (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Post, Query,
            new JsonObject { ["device_keys"] = new JsonObject { [alice.UserId] = new JsonArray(), [nobody] = new JsonArray() } });
        status.Should().Be(200, body.ToJsonString());
        var device = body["device_keys"]![alice.UserId]![alice.DeviceId]!.AsObject();
        device["device_id"]!.GetValue<string>().Should().Be(alice.DeviceId);
        device.ContainsKey("unsigned").Should().BeFalse("device names are not shared over federation");
        JsonSigning.Verify(device, alice.UserId, alice.SelfSigning.KeyId, alice.SelfSigning.PublicKey).Should().BeTrue();
        body["device_keys"]![nobody]!.AsObject().Should().BeEmpty();
        body["master_keys"]![alice.UserId]!["keys"]![alice.Master.KeyId].Should().NotBeNull();
        body["self_signing_keys"]![alice.UserId]!["usage"]!.AsArray().Single()!.GetValue<string>().Should().Be("self_signing");
        body.ContainsKey("user_signing_keys").Should().BeFalse();
        body.ContainsKey("failures").Should().BeFalse();

        (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Post, Query,
            new JsonObject { ["device_keys"] = new JsonObject { [alice.UserId] = new JsonArray("NOSUCHDEVICE") } });
        status.Should().Be(200);
        body["device_keys"]![alice.UserId]!.AsObject().Should().BeEmpty("only the devices asked for");

        var tooMany = new JsonObject();
        for (var i = 0; i <= 1000; i++) tooMany[$"@u{i}:{FederationClusterFixture.OurServerName}"] = new JsonArray();
        foreach (var (what, request, errcode) in new (string, JsonObject, string)[]
        {
            ("no device_keys", new JsonObject(), "M_MISSING_PARAM"),
            ("device_keys not an object", new JsonObject { ["device_keys"] = new JsonArray() }, "M_BAD_JSON"),
            ("a device ID not a string", new JsonObject { ["device_keys"] = new JsonObject { [alice.UserId] = new JsonArray(1) } }, "M_BAD_JSON"),
            ("another server's user", new JsonObject { ["device_keys"] = new JsonObject { ["@a:other.example"] = new JsonArray() } }, "M_INVALID_PARAM"),
            ("not a user ID", new JsonObject { ["device_keys"] = new JsonObject { ["alice"] = new JsonArray() } }, "M_INVALID_PARAM"),
            ("too many users", new JsonObject { ["device_keys"] = tooMany }, "M_TOO_LARGE"),
        })
        {
            (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Post, Query, request);
            status.Should().Be(400, what);
            body.ErrCode().Should().Be(errcode, what);
        }
    }

    [Fact]
    public async Task Keys_claim_takes_each_one_time_key_once_then_the_fallback_key()
    {
        var (_, origin) = await fixture.NewRemote();
        using var alice = await AliceAsync();
        var request = new JsonObject { ["one_time_keys"] = new JsonObject { [alice.UserId] = new JsonObject { [alice.DeviceId] = "signed_curve25519" } } };

        var claimed = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var (status, body) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Post, Claim, request.DeepClone().AsObject());
            status.Should().Be(200, body.ToJsonString());
            var (keyId, key) = body["one_time_keys"]![alice.UserId]![alice.DeviceId]!.AsObject().Single();
            claimed.Add($"{keyId}={key!["key"]!.GetValue<string>()}");
            body.ContainsKey("failures").Should().BeFalse();
        }
        claimed.Take(2).Should().BeEquivalentTo(["signed_curve25519:AAAA=otk1", "signed_curve25519:AAAB=otk2"]);
        claimed.Skip(2).Should().Equal("signed_curve25519:FFFF=fallback", "signed_curve25519:FFFF=fallback");

        var (s, b) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Post, Claim,
            new JsonObject { ["one_time_keys"] = new JsonObject { [alice.UserId] = new JsonObject { [alice.DeviceId] = "m.unknown" } } });
        s.Should().Be(200);
        b["one_time_keys"]!.AsObject().Should().BeEmpty("no key of that algorithm, so no user in the answer, as Synapse answers");

        var tooMany = new JsonObject();
        for (var i = 0; i <= 1000; i++) tooMany[$"D{i}"] = "signed_curve25519";
        foreach (var (what, bad, errcode) in new (string, JsonObject, string)[]
        {
            ("no one_time_keys", new JsonObject(), "M_MISSING_PARAM"),
            ("devices not an object", new JsonObject { ["one_time_keys"] = new JsonObject { [alice.UserId] = new JsonArray() } }, "M_BAD_JSON"),
            ("an algorithm not a string", new JsonObject { ["one_time_keys"] = new JsonObject { [alice.UserId] = new JsonObject { ["D"] = 1 } } }, "M_BAD_JSON"),
            ("another server's user", new JsonObject { ["one_time_keys"] = new JsonObject { ["@a:other.example"] = new JsonObject() } }, "M_INVALID_PARAM"),
            ("too many devices", new JsonObject { ["one_time_keys"] = new JsonObject { [alice.UserId] = tooMany } }, "M_TOO_LARGE"),
        })
        {
            (s, b) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, origin, HttpMethod.Post, Claim, bad);
            s.Should().Be(400, what);
            b.ErrCode().Should().Be(errcode, what);
        }
    }

    [Fact]
    public async Task The_key_endpoints_need_a_signature()
    {
        using var http = new HttpClient { BaseAddress = fixture.BaseAddress };
        using var response = await http.GetAsync(DevicesUri($"@a:{FederationClusterFixture.OurServerName}"));
        ((int)response.StatusCode).Should().Be(401);
        using var query = await http.PostAsync(Query, new StringContent("""{"device_keys": {}}""", System.Text.Encoding.UTF8, "application/json"));
        ((int)query.StatusCode).Should().Be(401);
        using var claim = await http.PostAsync(Claim, new StringContent("""{"one_time_keys": {}}""", System.Text.Encoding.UTF8, "application/json"));
        ((int)claim.StatusCode).Should().Be(401);
    }
}
