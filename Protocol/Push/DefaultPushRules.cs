using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The spec's predefined push rules ("Predefined Rules" of the push notifications module) for one
/// user, the deprecated mention rules included: clients that do not send <c>m.mentions</c> still
/// rely on them, and the evaluator skips them for events that carry it.
/// </summary>
public static class DefaultPushRules
{
    public static JsonObject For(string userId) => new()
    {
        ["global"] = new JsonObject
        {
            ["override"] = new JsonArray(
                Rule(".m.rule.master", enabled: false, [], []),
                Rule(".m.rule.suppress_notices", true, [Match("content.msgtype", "m.notice")], []),
                Rule(".m.rule.invite_for_me", true,
                    [Match("type", "m.room.member"), Match("content.membership", "invite"), Match("state_key", userId)],
                    [Notify(), Sound("default")]),
                Rule(".m.rule.member_event", true, [Match("type", "m.room.member")], []),
                Rule(".m.rule.is_user_mention", true,
                    [new JsonObject { ["kind"] = "event_property_contains", ["key"] = "content.m\\.mentions.user_ids", ["value"] = userId }],
                    [Notify(), Sound("default"), Highlight()]),
                Rule(".m.rule.contains_display_name", true, [new JsonObject { ["kind"] = "contains_display_name" }],
                    [Notify(), Sound("default"), Highlight()]),
                Rule(".m.rule.is_room_mention", true,
                    [new JsonObject { ["kind"] = "event_property_is", ["key"] = "content.m\\.mentions.room", ["value"] = true },
                     new JsonObject { ["kind"] = "sender_notification_permission", ["key"] = "room" }],
                    [Notify(), Highlight()]),
                Rule(".m.rule.roomnotif", true,
                    [Match("content.body", "@room"), new JsonObject { ["kind"] = "sender_notification_permission", ["key"] = "room" }],
                    [Notify(), Highlight()]),
                Rule(".m.rule.tombstone", true, [Match("type", "m.room.tombstone"), Match("state_key", "")], [Notify(), Highlight()]),
                Rule(".m.rule.reaction", true, [Match("type", "m.reaction")], []),
                Rule(".m.rule.room.server_acl", true, [Match("type", "m.room.server_acl"), Match("state_key", "")], []),
                Rule(".m.rule.suppress_edits", true,
                    [new JsonObject { ["kind"] = "event_property_is", ["key"] = "content.m\\.relates_to.rel_type", ["value"] = "m.replace" }],
                    [])),
            ["content"] = new JsonArray(ContentRule(".m.rule.contains_user_name", Localpart(userId), [Notify(), Sound("default"), Highlight()])),
            ["room"] = new JsonArray(),
            ["sender"] = new JsonArray(),
            ["underride"] = new JsonArray(
                Rule(".m.rule.call", true, [Match("type", "m.call.invite")], [Notify(), Sound("ring")]),
                Rule(".m.rule.encrypted_room_one_to_one", true, [MemberCount("2"), Match("type", "m.room.encrypted")], [Notify(), Sound("default")]),
                Rule(".m.rule.room_one_to_one", true, [MemberCount("2"), Match("type", "m.room.message")], [Notify(), Sound("default")]),
                Rule(".m.rule.message", true, [Match("type", "m.room.message")], [Notify()]),
                Rule(".m.rule.encrypted", true, [Match("type", "m.room.encrypted")], [Notify()])),
        },
    };

    private static JsonObject Rule(string id, bool enabled, JsonNode[] conditions, JsonNode[] actions) => new()
    {
        ["rule_id"] = id,
        ["default"] = true,
        ["enabled"] = enabled,
        ["conditions"] = new JsonArray(conditions),
        ["actions"] = new JsonArray(actions),
    };

    private static JsonObject ContentRule(string id, string pattern, JsonNode[] actions) => new()
    {
        ["rule_id"] = id,
        ["default"] = true,
        ["enabled"] = true,
        ["pattern"] = pattern,
        ["actions"] = new JsonArray(actions),
    };

    private static string Localpart(string userId) => UserId.TryParse(userId, out var id) ? id.Localpart : userId.TrimStart('@').Split(':')[0];

    private static JsonObject Match(string key, string pattern) => new() { ["kind"] = "event_match", ["key"] = key, ["pattern"] = pattern };

    private static JsonObject MemberCount(string count) => new() { ["kind"] = "room_member_count", ["is"] = count };

    private static JsonValue Notify() => JsonValue.Create("notify");

    private static JsonObject Sound(string sound) => new() { ["set_tweak"] = "sound", ["value"] = sound };

    private static JsonObject Highlight() => new() { ["set_tweak"] = "highlight" };
}
