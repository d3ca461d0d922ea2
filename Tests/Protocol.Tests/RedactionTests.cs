using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>What redaction keeps, per room version, as a table: (version, type, content) -> kept content.</summary>
public sealed class RedactionTests
{
    [Theory]
    [InlineData("10", "m.room.member", """{"membership":"join","displayname":"A","join_authorised_via_users_server":"@x:y"}""", """{"join_authorised_via_users_server":"@x:y","membership":"join"}""")]
    [InlineData("8", "m.room.member", """{"membership":"join","join_authorised_via_users_server":"@x:y"}""", """{"membership":"join"}""")]
    [InlineData("11", "m.room.member", """{"membership":"invite","third_party_invite":{"signed":{"a":1},"display_name":"x"}}""", """{"membership":"invite","third_party_invite":{"signed":{"a":1}}}""")]
    [InlineData("10", "m.room.member", """{"membership":"invite","third_party_invite":{"signed":{"a":1}}}""", """{"membership":"invite"}""")]
    [InlineData("8", "m.room.join_rules", """{"join_rule":"restricted","allow":[{"type":"m.room_membership"}],"x":1}""", """{"allow":[{"type":"m.room_membership"}],"join_rule":"restricted"}""")]
    [InlineData("7", "m.room.join_rules", """{"join_rule":"knock","allow":[]}""", """{"join_rule":"knock"}""")]
    [InlineData("10", "m.room.power_levels", """{"ban":50,"invite":0,"users":{"@a:b":100},"notifications":{"room":50}}""", """{"ban":50,"users":{"@a:b":100}}""")]
    [InlineData("11", "m.room.power_levels", """{"ban":50,"invite":0,"users":{"@a:b":100},"notifications":{"room":50}}""", """{"ban":50,"invite":0,"users":{"@a:b":100}}""")]
    [InlineData("10", "m.room.create", """{"creator":"@a:b","room_version":"10","m.federate":true}""", """{"creator":"@a:b"}""")]
    [InlineData("11", "m.room.create", """{"room_version":"11","m.federate":true}""", """{"m.federate":true,"room_version":"11"}""")]
    [InlineData("5", "m.room.aliases", """{"aliases":["#a:b"]}""", """{"aliases":["#a:b"]}""")]
    [InlineData("6", "m.room.aliases", """{"aliases":["#a:b"]}""", """{}""")]
    [InlineData("10", "m.room.history_visibility", """{"history_visibility":"shared","x":1}""", """{"history_visibility":"shared"}""")]
    [InlineData("10", "m.room.redaction", """{"redacts":"$e","reason":"r"}""", """{}""")]
    [InlineData("11", "m.room.redaction", """{"redacts":"$e","reason":"r"}""", """{"redacts":"$e"}""")]
    [InlineData("10", "m.room.message", """{"body":"secret","msgtype":"m.text"}""", """{}""")]
    [InlineData("11", "com.example.unknown", """{"anything":1}""", """{}""")]
    public void Content_kept(string version, string type, string content, string expected)
    {
        RoomVersions.TryGet(version, out var v).Should().BeTrue();
        var evt = new JsonObject { ["type"] = type, ["content"] = JsonNode.Parse(content) };
        CanonicalJson.ToCanonicalString(Redaction.Redact(evt, v)["content"]).Should().Be(expected);
    }

    [Theory]
    [InlineData("10", true)]
    [InlineData("11", false)]
    public void Top_level_origin_membership_and_prev_state_are_dropped_from_v11(string version, bool kept)
    {
        RoomVersions.TryGet(version, out var v).Should().BeTrue();
        var evt = JsonNode.Parse("""
            {"type":"m.room.message","content":{},"origin":"a","membership":"join","prev_state":[],"room_id":"!r:a",
             "sender":"@s:a","unsigned":{"age":1},"custom":1,"event_id":"$e","depth":1,"origin_server_ts":1}
            """)!.AsObject();
        var redacted = Redaction.Redact(evt, v);
        redacted.ContainsKey("origin").Should().Be(kept);
        redacted.ContainsKey("membership").Should().Be(kept);
        redacted.ContainsKey("prev_state").Should().Be(kept);
        redacted.ContainsKey("unsigned").Should().BeFalse();
        redacted.ContainsKey("custom").Should().BeFalse();
        redacted["room_id"]!.GetValue<string>().Should().Be("!r:a");
        evt.ContainsKey("custom").Should().BeTrue("the input is not changed");
    }
}
