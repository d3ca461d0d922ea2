using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Homeserver.Protocol;

/// <summary>What the room knows when it evaluates one member's rules for an event.</summary>
public sealed record PushContext(string UserId, string? DisplayName, int MemberCount, long SenderPowerLevel, Func<string, long> NotificationLevel);

/// <summary>The outcome for one member: the first matching rule's actions, and what they mean for counts.</summary>
public sealed record PushDecision(string RuleId, JsonArray Actions, bool Notify, bool Highlight);

/// <summary>Evaluates push rules (the spec's push notifications module) against an event.</summary>
public static class PushRuleEvaluator
{
    private static readonly HashSet<string> LegacyMentionRules =
        new(StringComparer.Ordinal) { ".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name" };

    /// <summary>The first enabled rule that matches, in priority order; null when none does.</summary>
    public static PushDecision? Evaluate(JsonObject ruleSet, JsonObject pdu, PushContext context)
    {
        var global = ruleSet["global"] as JsonObject;
        // An event with m.mentions says whom it mentions; the legacy body-scanning rules stay out of it.
        var hasMentions = pdu["content"] is JsonObject content && content.ContainsKey("m.mentions");
        foreach (var kind in PushRuleSet.Kinds)
        {
            foreach (var rule in (global?[kind] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                if (rule["enabled"] is JsonValue e && e.TryGetValue<bool>(out var enabled) && !enabled) continue;
                if (hasMentions && LegacyMentionRules.Contains(rule["rule_id"]?.ToString() ?? "")) continue;
                if (!Matches(kind, rule, pdu, context)) continue;
                var actions = rule["actions"] as JsonArray ?? [];
                return new PushDecision(rule["rule_id"]?.ToString() ?? "", actions, Notifies(actions), Highlights(actions));
            }
        }
        return null;
    }

    private static bool Matches(string kind, JsonObject rule, JsonObject pdu, PushContext context)
    {
        var ruleId = rule["rule_id"]?.ToString();
        return kind switch
        {
            "room" => pdu["room_id"]?.ToString() == ruleId,
            "sender" => pdu["sender"]?.ToString() == ruleId,
            "content" => rule["pattern"] is JsonValue p && p.TryGetValue<string>(out var pattern) &&
                         Lookup(pdu, "content.body") is JsonValue b && b.TryGetValue<string>(out var body) && WordMatch(body, pattern),
            _ => (rule["conditions"] as JsonArray ?? []).All(c => c is JsonObject condition && ConditionHolds(condition, pdu, context)),
        };
    }

    private static bool ConditionHolds(JsonObject condition, JsonObject pdu, PushContext context)
    {
        var key = condition["key"]?.ToString();
        switch (condition["kind"]?.ToString())
        {
            case "event_match":
                // The whole value must match the glob, except in content.body, where (as in Synapse) the glob
                // matches whole words; only strings match.
                return key is not null && condition["pattern"] is JsonValue p && p.TryGetValue<string>(out var pattern) &&
                       Lookup(pdu, key) is JsonValue v && v.TryGetValue<string>(out var value) &&
                       (key == "content.body" ? WordMatch(value, pattern) : SafeMatch(() => Glob(pattern).IsMatch(value)));
            case "event_property_is":
                return key is not null && Lookup(pdu, key) is JsonValue actual && ScalarEquals(actual, condition["value"]);
            case "event_property_contains":
                return key is not null && Lookup(pdu, key) is JsonArray array && array.Any(item => item is JsonValue i && ScalarEquals(i, condition["value"]));
            case "contains_display_name":
                return context.DisplayName is { Length: > 0 } name && Lookup(pdu, "content.body") is JsonValue b && b.TryGetValue<string>(out var body) &&
                       WordMatch(body, name, literal: true);
            case "room_member_count":
                return condition["is"]?.ToString() is { } expression && MemberCountMatches(expression, context.MemberCount);
            case "sender_notification_permission":
                return key is not null && context.SenderPowerLevel >= context.NotificationLevel(key);
            default:
                // Unknown conditions never match, as the spec requires.
                return false;
        }
    }

    /// <summary>Follows a dotted key; <c>\.</c> is a literal dot and <c>\\</c> a backslash.</summary>
    public static JsonNode? Lookup(JsonObject pdu, string key)
    {
        JsonNode? node = pdu;
        var part = new StringBuilder();
        for (var i = 0; i <= key.Length; i++)
        {
            if (i < key.Length && key[i] == '\\' && i + 1 < key.Length && key[i + 1] is '.' or '\\')
            {
                part.Append(key[++i]);
                continue;
            }
            if (i == key.Length || key[i] == '.')
            {
                if (node is not JsonObject o || !o.TryGetPropertyValue(part.ToString(), out node)) return null;
                part.Clear();
                continue;
            }
            part.Append(key[i]);
        }
        return node;
    }

    private static bool ScalarEquals(JsonValue actual, JsonNode? expected)
    {
        if (expected is not JsonValue e) return false;
        return (actual.GetValueKind(), e.GetValueKind()) switch
        {
            (JsonValueKind.String, JsonValueKind.String) => actual.GetValue<string>() == e.GetValue<string>(),
            (JsonValueKind.Number, JsonValueKind.Number) => actual.TryGetValue<long>(out var a) && e.TryGetValue<long>(out var b) && a == b,
            (JsonValueKind.True or JsonValueKind.False, JsonValueKind.True or JsonValueKind.False) => actual.GetValue<bool>() == e.GetValue<bool>(),
            _ => false,
        };
    }

    private static bool MemberCountMatches(string expression, int count)
    {
        var op = new string(expression.TakeWhile(c => c is '<' or '>' or '=').ToArray());
        if (!int.TryParse(expression[op.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        return op switch
        {
            "" or "==" => count == n,
            "<" => count < n,
            ">" => count > n,
            "<=" => count <= n,
            ">=" => count >= n,
            _ => false,
        };
    }

    private static Regex Glob(string pattern) => Cached("g" + pattern, () => new Regex(
        "^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
        RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.CultureInvariant, MatchTimeout));

    /// <summary>Whether the glob (or, with <paramref name="literal"/>, the text) occurs in the body between word boundaries.</summary>
    private static bool WordMatch(string body, string pattern, bool literal = false)
    {
        var regex = Cached((literal ? "l" : "w") + pattern, () =>
        {
            var inner = literal ? Regex.Escape(pattern)
                : Regex.Escape(pattern).Replace(@"\*", @"\S*?", StringComparison.Ordinal).Replace(@"\?", @"\S", StringComparison.Ordinal);
            return new Regex($@"(^|\W){inner}(\W|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, MatchTimeout);
        });
        return SafeMatch(() => regex.IsMatch(body));
    }

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private const int MaxCachedPatterns = 10_000;
    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    /// <summary>
    /// Every member's rules are evaluated for every event, and their patterns (user names, display
    /// names, the defaults' globs) repeat: building a regex costs far more than matching one.
    /// </summary>
    private static Regex Cached(string key, Func<Regex> create)
    {
        if (Patterns.TryGetValue(key, out var regex)) return regex;
        if (Patterns.Count >= MaxCachedPatterns) Patterns.Clear();
        return Patterns.GetOrAdd(key, _ => create());
    }

    /// <summary>A pattern that takes too long to match (a crafted one) does not match, rather than stalling the room.</summary>
    private static bool SafeMatch(Func<bool> match)
    {
        try
        {
            return match();
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static bool Notifies(JsonArray actions) => actions.Any(a => a is JsonValue v && v.TryGetValue<string>(out var s) && s == "notify");

    private static bool Highlights(JsonArray actions) => actions.OfType<JsonObject>().Any(a =>
        a["set_tweak"]?.ToString() == "highlight" && !(a["value"] is JsonValue v && v.TryGetValue<bool>(out var on) && !on));
}
