using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>The spec's default push rules against typical events, for a member "Bob" (@bob:hs) of a room.</summary>
public sealed class PushRuleEvaluatorTests
{
    private const string Bob = "@bob:hs";

    public static TheoryData<string, string, int, long, bool, bool> Cases() => new()
    {
        // case, event JSON (sender @alice:hs unless given), members, sender power level, notify, highlight
        { "plain message in a group", """{"type":"m.room.message","content":{"msgtype":"m.text","body":"hi all"}}""", 3, 0, true, false },
        { "message in a DM", """{"type":"m.room.message","content":{"msgtype":"m.text","body":"hi"}}""", 2, 0, true, false },
        { "encrypted in a DM", """{"type":"m.room.encrypted","content":{"ciphertext":"x"}}""", 2, 0, true, false },
        { "encrypted in a group", """{"type":"m.room.encrypted","content":{"ciphertext":"x"}}""", 5, 0, true, false },
        { "notice is suppressed", """{"type":"m.room.message","content":{"msgtype":"m.notice","body":"bot says"}}""", 3, 0, false, false },
        { "user mention by m.mentions", """{"type":"m.room.message","content":{"body":"hey","m.mentions":{"user_ids":["@bob:hs"]}}}""", 3, 0, true, true },
        { "someone else mentioned", """{"type":"m.room.message","content":{"body":"hey","m.mentions":{"user_ids":["@carol:hs"]}}}""", 3, 0, true, false },
        { "room mention by a moderator", """{"type":"m.room.message","content":{"body":"all","m.mentions":{"room":true}}}""", 3, 50, true, true },
        { "room mention without permission", """{"type":"m.room.message","content":{"body":"all","m.mentions":{"room":true}}}""", 3, 0, true, false },
        { "legacy display name in body", """{"type":"m.room.message","content":{"body":"ping Bobby? no, Bob!"}}""", 3, 0, true, true },
        { "display name inside a word", """{"type":"m.room.message","content":{"body":"Bobsleigh tonight"}}""", 3, 0, true, false },
        { "legacy user name in body", """{"type":"m.room.message","content":{"body":"ask bob about it"}}""", 3, 0, true, true },
        { "legacy rules skipped with m.mentions", """{"type":"m.room.message","content":{"body":"Bob","m.mentions":{}}}""", 3, 0, true, false },
        { "legacy @room by a moderator", """{"type":"m.room.message","content":{"body":"@room meeting now"}}""", 3, 50, true, true },
        { "invite for me", """{"type":"m.room.member","state_key":"@bob:hs","content":{"membership":"invite"}}""", 3, 0, true, false },
        { "someone else's join", """{"type":"m.room.member","state_key":"@carol:hs","content":{"membership":"join"}}""", 3, 0, false, false },
        { "reaction", """{"type":"m.reaction","content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$x","key":"+1"}}}""", 3, 0, false, false },
        { "edit", """{"type":"m.room.message","content":{"body":"* fixed","m.relates_to":{"rel_type":"m.replace","event_id":"$x"}}}""", 3, 0, false, false },
        { "tombstone", """{"type":"m.room.tombstone","state_key":"","content":{"body":"moved","replacement_room":"!n:hs"}}""", 3, 100, true, true },
        { "call invite", """{"type":"m.call.invite","content":{"call_id":"c"}}""", 3, 0, true, false },
        { "unknown event type", """{"type":"org.example.custom","content":{}}""", 3, 0, false, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Default_rules_decide_notify_and_highlight(string name, string eventJson, int members, long senderLevel, bool notify, bool highlight)
    {
        var decision = Evaluate(PushRuleSet.FromChanges(null), eventJson, members, senderLevel);
        (decision?.Notify ?? false).Should().Be(notify, name);
        (decision?.Highlight ?? false).Should().Be(highlight, name);
    }

    [Fact]
    public void The_master_rule_silences_everything_once_enabled()
    {
        var rules = PushRuleSet.FromChanges(null);
        rules.SetEnabled(Bob, "override", ".m.rule.master", true);
        Evaluate(rules, """{"type":"m.room.message","content":{"body":"hey","m.mentions":{"user_ids":["@bob:hs"]}}}""", 2, 0)!.Notify.Should().BeFalse();
    }

    [Fact]
    public void A_room_rule_without_actions_mutes_that_room_only()
    {
        var rules = PushRuleSet.FromChanges(null);
        rules.Put("room", "!muted:hs", new JsonObject { ["actions"] = new JsonArray() }, null, null);
        Evaluate(rules, """{"type":"m.room.message","room_id":"!muted:hs","content":{"body":"x"}}""", 3, 0)!.Notify.Should().BeFalse();
        Evaluate(rules, """{"type":"m.room.message","room_id":"!other:hs","content":{"body":"x"}}""", 3, 0)!.Notify.Should().BeTrue();
    }

    [Fact]
    public void Custom_rules_keep_their_order_and_outrank_defaults_of_their_kind_except_master()
    {
        var rules = PushRuleSet.FromChanges(null);
        rules.Put("override", "b", new JsonObject { ["actions"] = new JsonArray("notify") }, null, null);
        rules.Put("override", "a", new JsonObject { ["actions"] = new JsonArray("notify") }, before: "b", after: null);
        rules.Put("override", "c", new JsonObject { ["actions"] = new JsonArray("notify") }, before: null, after: "b");
        var ids = PushRuleSet.FromChanges(rules.ChangesJson).Compose(Bob)["global"]!["override"]!.AsArray().Select(r => r!["rule_id"]!.GetValue<string>()).ToList();
        ids.Take(4).Should().Equal(".m.rule.master", "a", "b", "c");

        var unknownAnchor = () => rules.Put("override", "d", new JsonObject { ["actions"] = new JsonArray() }, before: "nope", after: null);
        unknownAnchor.Should().Throw<PushRuleException>().Which.NotFound.Should().BeFalse("the spec answers 400 for a missing before/after rule, 404 only for the rule being edited");
        var reserved = () => rules.Put("override", ".m.rule.mine", new JsonObject { ["actions"] = new JsonArray() }, null, null);
        reserved.Should().Throw<PushRuleException>();
        var deleteDefault = () => rules.Delete("override", ".m.rule.master");
        deleteDefault.Should().Throw<PushRuleException>();
    }

    [Fact]
    public void Actions_of_a_default_rule_can_change_and_survive_a_reload()
    {
        var rules = PushRuleSet.FromChanges(null);
        rules.SetActions(Bob, "underride", ".m.rule.message", [JsonValue.Create("notify"), new JsonObject { ["set_tweak"] = "highlight" }]);
        var reloaded = PushRuleSet.FromChanges(rules.ChangesJson);
        Evaluate(reloaded, """{"type":"m.room.message","content":{"body":"x"}}""", 3, 0)!.Highlight.Should().BeTrue();
    }

    [Theory]
    [InlineData("content.m\\.mentions.room", true)]
    [InlineData("content.m.mentions.room", false)]
    public void Dotted_keys_escape_literal_dots(string key, bool found)
    {
        var pdu = JsonNode.Parse("""{"content":{"m.mentions":{"room":true}}}""")!.AsObject();
        (PushRuleEvaluator.Lookup(pdu, key) is not null).Should().Be(found);
    }

    private static PushDecision? Evaluate(PushRuleSet rules, string eventJson, int members, long senderLevel)
    {
        var pdu = JsonNode.Parse(eventJson)!.AsObject();
        pdu["sender"] ??= "@alice:hs";
        pdu["room_id"] ??= "!room:hs";
        var context = new PushContext(Bob, "Bob", members, senderLevel, _ => 50);
        return PushRuleEvaluator.Evaluate(rules.Compose(Bob), pdu, context);
    }
}
