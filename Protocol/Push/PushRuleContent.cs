using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The shapes of push-rule actions and conditions the spec defines (<c>definitions/push_rule.yaml</c>,
/// <c>push_condition.yaml</c>), checked when a client sets them: a stored rule is evaluated for every
/// event the user might be notified of, so one that the evaluator cannot read is refused up front.
/// Unknown condition kinds are kept (the spec says they never match); unknown actions are refused,
/// as Synapse does.
/// </summary>
public static class PushRuleContent
{
    private static readonly HashSet<string> SimpleActions = new(StringComparer.Ordinal) { "notify", "dont_notify", "coalesce" };

    public static void CheckActions(JsonNode? actions)
    {
        if (actions is not JsonArray list) throw new PushRuleException("'actions' must be a list.");
        foreach (var action in list)
        {
            switch (action)
            {
                case JsonValue v when v.TryGetValue<string>(out var name):
                    if (!SimpleActions.Contains(name)) throw new PushRuleException($"Unknown action '{name}'.");
                    break;
                case JsonObject tweak:
                    if (tweak["set_tweak"] is not JsonValue t || !t.TryGetValue<string>(out var tweakName))
                    {
                        throw new PushRuleException("An action object must name a tweak in 'set_tweak'.");
                    }
                    if (tweakName == "highlight" && tweak.ContainsKey("value") && !(tweak["value"] is JsonValue h && h.TryGetValue<bool>(out _)))
                    {
                        throw new PushRuleException("The highlight tweak's 'value' must be true or false.");
                    }
                    if (tweakName == "sound" && !(tweak["value"] is JsonValue s && s.TryGetValue<string>(out _)))
                    {
                        throw new PushRuleException("The sound tweak's 'value' must be a string.");
                    }
                    break;
                default:
                    throw new PushRuleException("Each action must be a string or a set_tweak object.");
            }
        }
    }

    public static void CheckConditions(JsonNode? conditions)
    {
        if (conditions is not JsonArray list) throw new PushRuleException("'conditions' must be a list.");
        foreach (var node in list)
        {
            if (node is not JsonObject condition) throw new PushRuleException("Each condition must be an object.");
            if (condition["kind"] is not JsonValue k || !k.TryGetValue<string>(out var kind)) throw new PushRuleException("Each condition needs a 'kind' string.");
            switch (kind)
            {
                case "event_match":
                    RequireString(condition, kind, "key");
                    RequireString(condition, kind, "pattern");
                    break;
                case "event_property_is" or "event_property_contains":
                    RequireString(condition, kind, "key");
                    if (!condition.ContainsKey("value") || !IsScalar(condition["value"]))
                    {
                        throw new PushRuleException($"A {kind} condition's 'value' must be a string, an integer, a boolean or null.");
                    }
                    break;
                case "room_member_count":
                    RequireString(condition, kind, "is");
                    break;
                case "sender_notification_permission":
                    RequireString(condition, kind, "key");
                    break;
            }
        }
    }

    private static bool IsScalar(JsonNode? node) => node switch
    {
        null => true,
        JsonValue v => v.GetValueKind() switch
        {
            System.Text.Json.JsonValueKind.String or System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => true,
            System.Text.Json.JsonValueKind.Number => !v.ToJsonString().AsSpan().ContainsAny(".eE"),
            _ => false,
        },
        _ => false,
    };

    private static void RequireString(JsonObject condition, string kind, string field)
    {
        if (condition[field] is not JsonValue v || !v.TryGetValue<string>(out _)) throw new PushRuleException($"A {kind} condition needs a '{field}' string.");
    }
}
