using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>The redaction algorithm, per room version: what of an event survives a redaction.</summary>
public static class Redaction
{
    private static readonly string[] TopLevelKeysV1 =
        ["event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
         "prev_events", "prev_state", "auth_events", "origin", "origin_server_ts", "membership"];

    private static readonly string[] TopLevelKeysV11 =
        ["event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
         "prev_events", "auth_events", "origin_server_ts"];

    /// <summary>Returns the redacted copy of <paramref name="evt"/>; the input is not changed.</summary>
    public static JsonObject Redact(JsonObject evt, RoomVersion version)
    {
        var keep = version.RedactionV11 ? TopLevelKeysV11 : TopLevelKeysV1;
        var redacted = new JsonObject();
        foreach (var key in keep)
        {
            if (evt.TryGetPropertyValue(key, out var value)) redacted[key] = value?.DeepClone();
        }
        var type = evt["type"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : "";
        var content = evt["content"] as JsonObject ?? [];
        redacted["content"] = RedactContent(type, content, version);
        return redacted;
    }

    private static JsonObject RedactContent(string type, JsonObject content, RoomVersion version)
    {
        if (type == "m.room.create" && version.RedactionV11) return content.DeepClone().AsObject();

        var kept = new JsonObject();
        void Keep(string key)
        {
            if (content.TryGetPropertyValue(key, out var value)) kept[key] = value?.DeepClone();
        }

        switch (type)
        {
            case "m.room.member":
                Keep("membership");
                if (version.RedactionKeepsJoinAuthorisedVia) Keep("join_authorised_via_users_server");
                if (version.RedactionV11 && content["third_party_invite"] is JsonObject invite && invite.ContainsKey("signed"))
                {
                    kept["third_party_invite"] = new JsonObject { ["signed"] = invite["signed"]?.DeepClone() };
                }
                break;
            case "m.room.create":
                Keep("creator");
                break;
            case "m.room.join_rules":
                Keep("join_rule");
                if (version.RedactionKeepsJoinRulesAllow) Keep("allow");
                break;
            case "m.room.power_levels":
                foreach (var key in new[] { "ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default" })
                {
                    Keep(key);
                }
                if (version.RedactionV11) Keep("invite");
                break;
            case "m.room.aliases" when version.AliasesSpecialCased:
                Keep("aliases");
                break;
            case "m.room.history_visibility":
                Keep("history_visibility");
                break;
            case "m.room.redaction" when version.RedactionV11:
                Keep("redacts");
                break;
        }
        return kept;
    }
}
