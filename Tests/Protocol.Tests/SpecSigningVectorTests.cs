using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>The "Cryptographic Test Vectors" of the spec's appendices, byte for byte.</summary>
public sealed class SpecSigningVectorTests
{
    private static readonly SigningKey Key = SigningKey.FromSeed(UnpaddedBase64.Decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"), "1");

    [Theory]
    [InlineData("{}", "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ")]
    [InlineData("""{"one": 1, "two": "Two"}""", "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw")]
    public void Json_signing_matches_the_spec(string json, string expectedSignature)
    {
        var obj = JsonNode.Parse(json)!.AsObject();
        JsonSigning.Sign(obj, "domain", Key);
        obj["signatures"]!["domain"]!["ed25519:1"]!.GetValue<string>().Should().Be(expectedSignature);
        JsonSigning.Verify(obj, "domain", "ed25519:1", Key.PublicKey).Should().BeTrue();
    }

    [Fact]
    public void Numbers_of_any_clr_type_are_written_as_integers()
    {
        var obj = new JsonObject { ["i"] = 2, ["l"] = 3L, ["d"] = 4.0, ["u"] = (ushort)5 };
        CanonicalJson.ToCanonicalString(obj).Should().Be("""{"d":4,"i":2,"l":3,"u":5}""");
    }

    [Fact]
    public void A_tampered_object_no_longer_verifies()
    {
        var obj = JsonNode.Parse("""{"one": 1, "two": "Two"}""")!.AsObject();
        JsonSigning.Sign(obj, "domain", Key);
        obj["one"] = 2;
        JsonSigning.Verify(obj, "domain", "ed25519:1", Key.PublicKey).Should().BeFalse();
    }

    [Fact]
    public void Minimal_event_gets_the_spec_hash_and_signature()
    {
        var evt = JsonNode.Parse("""
            {"room_id": "!x:domain", "sender": "@a:domain", "origin": "domain", "origin_server_ts": 1000000,
             "signatures": {}, "hashes": {}, "type": "X", "content": {}, "prev_events": [], "auth_events": [],
             "depth": 3, "unsigned": {"age_ts": 1000000}}
            """)!.AsObject();
        ContentHash.Add(evt);
        EventSigning.SignEvent(evt, RoomVersions.Default, "domain", Key);

        evt["hashes"]!["sha256"]!.GetValue<string>().Should().Be("5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
        evt["signatures"]!["domain"]!["ed25519:1"]!.GetValue<string>()
            .Should().Be("KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg");
        evt["unsigned"]!["age_ts"]!.GetValue<long>().Should().Be(1000000);
    }

    [Fact]
    public void Event_with_redactable_content_gets_the_spec_hash_and_signature()
    {
        var evt = JsonNode.Parse("""
            {"content": {"body": "Here is the message content"}, "event_id": "$0:domain", "origin": "domain",
             "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain", "sender": "@u:domain",
             "signatures": {}, "unsigned": {"age_ts": 1000000}}
            """)!.AsObject();
        ContentHash.Add(evt);
        EventSigning.SignEvent(evt, RoomVersions.Default, "domain", Key);

        evt["hashes"]!["sha256"]!.GetValue<string>().Should().Be("onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
        evt["signatures"]!["domain"]!["ed25519:1"]!.GetValue<string>()
            .Should().Be("Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA");
        EventSigning.VerifyEvent(evt, RoomVersions.Default, "domain", "ed25519:1", Key.PublicKey).Should().BeTrue();

        // Signatures cover the redacted form, so they survive a redaction.
        var redacted = Redaction.Redact(evt, RoomVersions.Default);
        redacted["content"]!.AsObject().Should().BeEmpty();
        EventSigning.VerifyEvent(redacted, RoomVersions.Default, "domain", "ed25519:1", Key.PublicKey).Should().BeTrue();
    }

    [Fact]
    public void Synapse_key_file_format_round_trips()
    {
        // The spec's seed text has non-zero padding bits; encoding the same 32 bytes gives the canonical form.
        var line = Key.ToSynapseFormat();
        line.Should().Be("ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0");
        var parsed = SigningKey.ParseSynapseFormat(line);
        parsed.KeyId.Should().Be("ed25519:1");
        parsed.Seed.Should().Equal(Key.Seed);
    }
}
