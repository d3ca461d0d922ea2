using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The spec's filter definition (<c>definitions/sync_filter.yaml</c> and the event filters it
/// names), checked where a filter enters: uploaded with POST /filter, or inline on /sync and
/// /messages. A stored filter is read back on every sync, so a malformed one is refused before it
/// is stored (400 M_BAD_JSON naming the field), as Synapse does. Unknown keys are allowed: the spec
/// grows, and Synapse keeps them too.
/// </summary>
public static class FilterDefinition
{
    public static void Validate(JsonObject filter)
    {
        StringList(filter, "event_fields", "");
        if (filter["event_format"] is { } format && !(format is JsonValue v && v.TryGetValue<string>(out var f) && f is "client" or "federation"))
        {
            throw Bad("event_format", "must be 'client' or 'federation'");
        }
        EventFilter(filter, "presence", "");
        EventFilter(filter, "account_data", "");
        if (Section(filter, "room", "") is { } room)
        {
            IdList(room, "rooms", '!', "room.");
            IdList(room, "not_rooms", '!', "room.");
            Boolean(room, "include_leave", "room.");
            foreach (var part in new[] { "ephemeral", "state", "timeline", "account_data" }) RoomEventFilter(room, part, "room.");
        }
    }

    /// <summary>A room event filter on its own (the /messages and /context <c>filter</c> parameter).</summary>
    public static void ValidateRoomEventFilter(JsonObject filter, string at = "filter.")
    {
        EventFilterFields(filter, at);
        IdList(filter, "rooms", '!', at);
        IdList(filter, "not_rooms", '!', at);
        foreach (var flag in new[] { "contains_url", "include_redundant_members", "lazy_load_members", "unread_thread_notifications" }) Boolean(filter, flag, at);
    }

    private static void EventFilter(JsonObject parent, string key, string at)
    {
        if (Section(parent, key, at) is { } filter) EventFilterFields(filter, at + key + ".");
    }

    private static void RoomEventFilter(JsonObject parent, string key, string at)
    {
        if (Section(parent, key, at) is { } filter) ValidateRoomEventFilter(filter, at + key + ".");
    }

    private static void EventFilterFields(JsonObject filter, string at)
    {
        if (filter["limit"] is { } limit && !(limit is JsonValue v && v.TryGetValue<long>(out var n) && n >= 0 && IsInteger(v)))
        {
            throw Bad(at + "limit", "must be a non-negative integer");
        }
        IdList(filter, "senders", '@', at);
        IdList(filter, "not_senders", '@', at);
        StringList(filter, "types", at);
        StringList(filter, "not_types", at);
    }

    private static JsonObject? Section(JsonObject parent, string key, string at) => parent[key] switch
    {
        null when !parent.ContainsKey(key) => null,
        JsonObject o => o,
        _ => throw Bad(at + key, "must be an object"),
    };

    private static void Boolean(JsonObject parent, string key, string at)
    {
        if (parent.ContainsKey(key) && !(parent[key] is JsonValue v && v.TryGetValue<bool>(out _))) throw Bad(at + key, "must be true or false");
    }

    private static void StringList(JsonObject parent, string key, string at)
    {
        if (!parent.ContainsKey(key)) return;
        if (parent[key] is not JsonArray list || list.Any(item => !(item is JsonValue v && v.TryGetValue<string>(out _))))
        {
            throw Bad(at + key, "must be a list of strings");
        }
    }

    private static void IdList(JsonObject parent, string key, char sigil, string at)
    {
        StringList(parent, key, at);
        if (parent[key] is JsonArray list && list.Any(item => item!.GetValue<string>() is not { Length: > 1 } id || id[0] != sigil))
        {
            throw Bad(at + key, sigil == '@' ? "must list user IDs" : "must list room IDs");
        }
    }

    private static bool IsInteger(JsonValue value) => !value.ToJsonString().AsSpan().ContainsAny(".eE");

    private static MatrixException Bad(string field, string what) => MatrixException.BadJson($"The filter's '{field}' {what}.");
}
