using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>Why a push-rule edit was refused: <see cref="NotFound"/> answers 404, anything else 400.</summary>
public sealed class PushRuleException(string message, bool notFound = false) : Exception(message)
{
    public bool NotFound { get; } = notFound;
}

/// <summary>
/// A user's push rules: the spec's defaults plus the user's changes, which are all that is stored
/// (custom rules per kind in priority order, and enabled/actions overrides of default rules), so
/// new server defaults reach every user without a migration.
/// </summary>
public sealed class PushRuleSet
{
    public static readonly IReadOnlyList<string> Kinds = ["override", "content", "room", "sender", "underride"];

    private readonly JsonObject _changes;

    private PushRuleSet(JsonObject changes) => _changes = changes;

    public static PushRuleSet FromChanges(string? json) =>
        new(json is null ? new JsonObject() : StoredJson.Parse(json) as JsonObject ?? new JsonObject());

    public string ChangesJson => _changes.ToJsonString();

    /// <summary>The full rule set for /pushrules/ and evaluation, highest priority first within each kind.</summary>
    public JsonObject Compose(string userId)
    {
        var defaults = DefaultPushRules.For(userId)["global"]!.AsObject();
        var global = new JsonObject();
        foreach (var kind in Kinds)
        {
            var list = new JsonArray();
            var builtIn = defaults[kind]!.AsArray().Select(r => r!.DeepClone().AsObject()).ToList();
            foreach (var rule in builtIn) ApplyOverrides(kind, rule);
            // The master rule outranks user rules; every other default rule comes after them (as in Synapse).
            foreach (var rule in builtIn.Where(r => r["rule_id"]!.ToString() == ".m.rule.master")) list.Add(rule);
            foreach (var rule in Custom(kind)) list.Add(rule.DeepClone());
            foreach (var rule in builtIn.Where(r => r["rule_id"]!.ToString() != ".m.rule.master")) list.Add(rule);
            global[kind] = list;
        }
        return new JsonObject { ["global"] = global };
    }

    public JsonObject? Find(string userId, string kind, string ruleId) =>
        Compose(userId)["global"]![CheckKind(kind)]!.AsArray().OfType<JsonObject>().FirstOrDefault(r => r["rule_id"]!.ToString() == ruleId);

    /// <summary>Adds or replaces a user rule, optionally placed before or after another user rule of its kind.</summary>
    public void Put(string kind, string ruleId, JsonObject body, string? before, string? after)
    {
        CheckKind(kind);
        if (ruleId.StartsWith('.')) throw new PushRuleException("Rule IDs starting with '.' are reserved for server-default rules.");
        if (!body.ContainsKey("actions")) throw new PushRuleException("'actions' is missing.");
        PushRuleContent.CheckActions(body["actions"]);
        var rule = new JsonObject { ["rule_id"] = ruleId, ["default"] = false, ["enabled"] = true, ["actions"] = body["actions"]!.DeepClone() };
        switch (kind)
        {
            case "override" or "underride":
                if (body.ContainsKey("conditions")) PushRuleContent.CheckConditions(body["conditions"]);
                rule["conditions"] = body["conditions"] is JsonArray conditions ? conditions.DeepClone() : new JsonArray();
                break;
            case "content":
                rule["pattern"] = body["pattern"] is JsonValue p && p.TryGetValue<string>(out var pattern) ? pattern
                    : throw new PushRuleException("Content rules need a 'pattern'.");
                break;
        }
        var list = Custom(kind);
        var existing = list.FindIndex(r => r["rule_id"]!.ToString() == ruleId);
        if (existing >= 0)
        {
            rule["enabled"] = list[existing]["enabled"]?.DeepClone() ?? true;
            list.RemoveAt(existing);
        }
        var index = list.Count;
        if (before is not null || after is not null)
        {
            var anchor = list.FindIndex(r => r["rule_id"]!.ToString() == (before ?? after));
            // The spec's example answer: 400, not 404 (that is for the rule being edited).
            if (anchor < 0) throw new PushRuleException($"before/after rule not found: {before ?? after}");
            index = before is not null ? anchor : anchor + 1;
        }
        else if (existing >= 0)
        {
            index = existing;
        }
        list.Insert(index, rule);
        SaveCustom(kind, list);
    }

    public void Delete(string kind, string ruleId)
    {
        CheckKind(kind);
        if (ruleId.StartsWith('.')) throw new PushRuleException("Server-default rules cannot be deleted; disable them instead.");
        var list = Custom(kind);
        if (list.RemoveAll(r => r["rule_id"]!.ToString() == ruleId) == 0) throw new PushRuleException("No such push rule.", notFound: true);
        SaveCustom(kind, list);
    }

    public void SetEnabled(string userId, string kind, string ruleId, bool enabled) => Override(userId, kind, ruleId, "enabled", JsonValue.Create(enabled));

    public void SetActions(string userId, string kind, string ruleId, JsonArray actions)
    {
        PushRuleContent.CheckActions(actions);
        Override(userId, kind, ruleId, "actions", actions.DeepClone());
    }

    /// <summary>
    /// On a room upgrade, the user's enabled rules about the old room start applying to the new one, as
    /// Synapse's copy_push_rules_from_room_to_room does: the room rule named by the old room ID, and
    /// override and underride rules with a room_id condition on it, copied under the new room ID with
    /// that condition pointing at the new room. False when there was nothing to copy.
    /// </summary>
    public bool CopyRoomRules(string oldRoomId, string newRoomId)
    {
        var copied = false;
        foreach (var kind in (string[])["override", "room", "underride"])
        {
            var list = Custom(kind);
            var copies = new List<JsonObject>();
            foreach (var rule in list.Where(r => r["enabled"]?.GetValue<bool>() != false))
            {
                var conditions = rule["conditions"] as JsonArray;
                var about = kind == "room"
                    ? rule["rule_id"]!.ToString() == oldRoomId
                    : conditions?.OfType<JsonObject>().Any(c => c["key"]?.ToString() == "room_id" && c["pattern"]?.ToString() == oldRoomId) == true;
                if (!about) continue;
                var copy = rule.DeepClone().AsObject();
                copy["rule_id"] = newRoomId;
                foreach (var condition in (copy["conditions"] as JsonArray ?? []).OfType<JsonObject>().Where(c => c["key"]?.ToString() == "room_id"))
                {
                    condition["pattern"] = newRoomId;
                }
                copies.Add(copy);
            }
            if (copies.Count == 0) continue;
            // A copy replaces a rule of that kind already named after the new room; one kind holds one rule per ID.
            list.RemoveAll(r => r["rule_id"]!.ToString() == newRoomId);
            list.Add(copies[^1]);
            SaveCustom(kind, list);
            copied = true;
        }
        return copied;
    }

    private void Override(string userId, string kind, string ruleId, string field, JsonNode value)
    {
        if (Find(userId, kind, ruleId) is null) throw new PushRuleException("No such push rule.", notFound: true);
        if (ruleId.StartsWith('.'))
        {
            var overrides = Section("overrides");
            var entry = overrides[$"{kind}/{ruleId}"] as JsonObject ?? (JsonObject)(overrides[$"{kind}/{ruleId}"] = new JsonObject());
            entry[field] = value;
            return;
        }
        var list = Custom(kind);
        list.First(r => r["rule_id"]!.ToString() == ruleId)[field] = value;
        SaveCustom(kind, list);
    }

    private void ApplyOverrides(string kind, JsonObject rule)
    {
        if (_changes["overrides"]?[$"{kind}/{rule["rule_id"]}"] is not JsonObject changed) return;
        foreach (var (field, value) in changed) rule[field] = value?.DeepClone();
    }

    private List<JsonObject> Custom(string kind) =>
        (_changes["custom"]?[kind] as JsonArray)?.OfType<JsonObject>().Select(r => r.DeepClone().AsObject()).ToList() ?? [];

    private void SaveCustom(string kind, List<JsonObject> rules) => Section("custom")[kind] = new JsonArray(rules.Cast<JsonNode>().ToArray());

    private JsonObject Section(string name) => _changes[name] as JsonObject ?? (JsonObject)(_changes[name] = new JsonObject());

    private static string CheckKind(string kind) =>
        Kinds.Contains(kind) ? kind : throw new PushRuleException($"'{kind}' is not a push rule kind.", notFound: true);
}
