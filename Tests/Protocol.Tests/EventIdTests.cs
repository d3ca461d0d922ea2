using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>
/// Event IDs for the spec's signed minimal event. The expected values were computed once outside
/// this code (Python: json.dumps(sort_keys, separators) + hashlib.sha256 + base64) from the
/// redacted event as the spec describes it.
/// </summary>
public sealed class EventIdTests
{
    private static JsonObject SignedMinimalEvent() => JsonNode.Parse("""
        {"auth_events": [], "content": {}, "depth": 3, "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
         "origin": "domain", "origin_server_ts": 1000000, "prev_events": [], "room_id": "!x:domain", "sender": "@a:domain",
         "signatures": {"domain": {"ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
         "type": "X", "unsigned": {"age_ts": 1000000}}
        """)!.AsObject();

    [Theory]
    [InlineData("3", "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc")]
    [InlineData("4", "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc")]
    [InlineData("10", "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc")]
    [InlineData("11", "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I")]
    public void Event_id_is_the_reference_hash(string version, string expected)
    {
        RoomVersions.TryGet(version, out var v).Should().BeTrue();
        EventIds.Compute(SignedMinimalEvent(), v).ToString().Should().Be(expected);
    }

    [Fact]
    public void Signatures_and_unsigned_do_not_change_the_event_id()
    {
        var evt = SignedMinimalEvent();
        var before = EventIds.Compute(evt, RoomVersions.Default);
        evt["signatures"] = new JsonObject();
        evt["unsigned"] = new JsonObject { ["age"] = 5 };
        EventIds.Compute(evt, RoomVersions.Default).Should().Be(before);
    }

    [Fact]
    public void Version_3_uses_the_standard_alphabet_and_version_4_the_url_safe_one()
    {
        // Find an event whose hash has '+' or '/' in standard base64, then compare the two encodings.
        for (var depth = 0; depth < 200; depth++)
        {
            var evt = SignedMinimalEvent();
            evt["depth"] = depth;
            RoomVersions.TryGet("3", out var v3);
            RoomVersions.TryGet("4", out var v4);
            var standard = EventIds.Compute(evt, v3).ToString();
            if (!standard.Contains('+') && !standard.Contains('/')) continue;
            EventIds.Compute(evt, v4).ToString().Should().Be(standard.Replace('+', '-').Replace('/', '_'));
            return;
        }
        Assert.Fail("no hash with '+' or '/' in 200 tries");
    }

    [Fact]
    public void Room_versions_1_and_2_use_server_scoped_ids()
    {
        RoomVersions.TryGet("1", out var v1);
        FluentActions.Invoking(() => EventIds.Compute(SignedMinimalEvent(), v1)).Should().Throw<InvalidOperationException>();
        EventIds.NewServerScoped(ServerName.Parse("example.org")).ToString().Should().MatchRegex(@"^\$[A-Za-z]{18}:example\.org$");
    }

    [Fact]
    public void Content_hash_ignores_unsigned_signatures_and_hashes()
    {
        var evt = SignedMinimalEvent();
        ContentHash.Compute(evt).Should().Be("5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
        evt["content"] = new JsonObject { ["x"] = 1 };
        ContentHash.Compute(evt).Should().NotBe("5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    }
}
