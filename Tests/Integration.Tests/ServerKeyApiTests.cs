using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>
/// What another homeserver asks first (server-server-api "Retrieving server keys" and
/// "GET /_matrix/federation/v1/version", key/v2 server_keys.yaml, version.yaml): a self-signed key
/// answer every API host gives alike, the server's name and version, and discovery left to the operator.
/// </summary>
public sealed class ServerKeyApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient Anonymous(int host = 0) => new(fixture.Cluster.ApiHosts[host].BaseAddress);

    [Fact]
    public async Task The_key_answer_is_signed_by_the_key_it_publishes_and_valid_for_a_day()
    {
        using var client = Anonymous();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (status, keys) = await client.GetAsync("/_matrix/key/v2/server");
        status.Should().Be(200, keys.ToJsonString());

        keys["server_name"]!.GetValue<string>().Should().Be("test.local");
        keys["old_verify_keys"].Should().BeOfType<JsonObject>();
        var verifyKeys = keys["verify_keys"]!.AsObject();
        verifyKeys.Should().ContainSingle();
        var (keyId, key) = (verifyKeys.Single().Key, verifyKeys.Single().Value!["key"]!.GetValue<string>());
        keyId.Should().MatchRegex("^ed25519:[a-zA-Z0-9_]+$");
        var publicKey = UnpaddedBase64.Decode(key);
        publicKey.Should().HaveCount(32);
        JsonSigning.Verify(keys, "test.local", keyId, publicKey).Should().BeTrue("the answer is signed with the key it publishes");

        var validUntil = keys["valid_until_ts"]!.GetValue<long>();
        validUntil.Should().BeInRange(before + (long)TimeSpan.FromHours(23).TotalMilliseconds, before + (long)TimeSpan.FromHours(25).TotalMilliseconds,
            "Synapse's key_refresh_interval default is a day, well inside the seven days room versions 5+ accept");

        // Tampering breaks the signature: it covers the whole answer.
        var tampered = keys.DeepClone().AsObject();
        tampered["valid_until_ts"] = validUntil + 1;
        JsonSigning.Verify(tampered, "test.local", keyId, publicKey).Should().BeFalse();

        // The deprecated key ID form answers the same keys.
        var (byIdStatus, byId) = await client.GetAsync($"/_matrix/key/v2/server/{Uri.EscapeDataString(keyId)}");
        byIdStatus.Should().Be(200);
        byId["verify_keys"]![keyId]!["key"]!.GetValue<string>().Should().Be(key);
    }

    [Fact]
    public async Task Every_api_host_publishes_the_same_key_the_silos_sign_events_with()
    {
        var published = new List<string>();
        for (var host = 0; host < fixture.Cluster.ApiHosts.Count; host++)
        {
            using var client = Anonymous(host);
            var (_, keys) = await client.GetAsync("/_matrix/key/v2/server");
            published.Add(keys["verify_keys"]!.ToJsonString());
        }
        published.Distinct().Should().ContainSingle("every process shares the one stored key");

        // A room's create event, as stored, carries a signature by that key.
        using var alice = await MatrixClient.RegisteredAsync(fixture.Cluster.ApiHosts[0].BaseAddress);
        var room = await alice.CreateRoomAsync(new JsonObject());
        var keysAnswer = (await alice.GetAsync("/_matrix/key/v2/server")).Body["verify_keys"]!.AsObject().Single();
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT json FROM events WHERE room_id = $1 AND type = 'm.room.create'", connection);
        command.Parameters.Add(new() { Value = room });
        var pdu = JsonNode.Parse((string)(await command.ExecuteScalarAsync())!)!.AsObject();
        pdu["signatures"]!["test.local"]![keysAnswer.Key].Should().NotBeNull();
        RoomVersions.TryGet(pdu["content"]!["room_version"]!.GetValue<string>(), out var version).Should().BeTrue();
        var redacted = Redaction.Redact(pdu, version);
        JsonSigning.Verify(redacted, "test.local", keysAnswer.Key, UnpaddedBase64.Decode(keysAnswer.Value!["key"]!.GetValue<string>()))
            .Should().BeTrue("events are signed over their redacted form with the published key");
    }

    [Fact]
    public async Task Version_names_the_server_and_server_discovery_is_off_by_default()
    {
        using var client = Anonymous();
        var (status, version) = await client.GetAsync("/_matrix/federation/v1/version");
        status.Should().Be(200);
        version["server"]!["name"]!.GetValue<string>().Should().NotBeNullOrWhiteSpace();
        version["server"]!["version"]!.GetValue<string>().Should().NotBeNullOrWhiteSpace();

        var (wellKnownStatus, wellKnown) = await client.GetAsync("/.well-known/matrix/server");
        (wellKnownStatus, wellKnown["errcode"]!.GetValue<string>()).Should().Be((404, "M_NOT_FOUND"),
            "serve_server_wellknown is false unless the operator sets it, as in Synapse");
    }
}
