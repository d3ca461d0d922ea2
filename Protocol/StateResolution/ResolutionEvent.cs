using System.Text.Json.Nodes;

namespace Homeserver.Protocol.StateResolution;

/// <summary>The fields of a looked-up event that state resolution reads, parsed once.</summary>
internal sealed record ResolutionEvent(
    string Id,
    JsonObject Json,
    string Type,
    string? StateKey,
    string Sender,
    long OriginServerTs,
    long Depth,
    IReadOnlyList<string> AuthEvents,
    IReadOnlyList<string> PrevEvents,
    bool Rejected)
{
    public (string Type, string StateKey) Key => (Type, StateKey ?? "");

    /// <summary>
    /// The v2 definition of a power event: power levels, join rules, or a kick or ban (a leave or ban
    /// whose sender is not its target). These are the events that can take a right away.
    /// </summary>
    public bool IsPowerEvent => StateKey is not null && (Type is "m.room.power_levels" or "m.room.join_rules" ||
        (Type == "m.room.member" && Membership is "leave" or "ban" && StateKey != Sender));

    public string? Membership => Json["content"] is JsonObject content && content["membership"] is JsonValue v && v.TryGetValue<string>(out var m)
        ? m
        : null;

    /// <summary>Parses an event, or returns null when a field resolution needs is missing or of the wrong kind.</summary>
    public static ResolutionEvent? TryParse(string id, StateEvent stored)
    {
        var json = stored.Json;
        if (Text(json, "type") is not { } type || Text(json, "sender") is not { } sender) return null;
        var stateKey = json["state_key"] is null ? null : Text(json, "state_key");
        if (json["state_key"] is not null && stateKey is null) return null;
        if (EventIds(json["auth_events"]) is not { } authEvents || EventIds(json["prev_events"]) is not { } prevEvents) return null;
        return new ResolutionEvent(id, json, type, stateKey, sender, Integer(json, "origin_server_ts"), Integer(json, "depth"),
            authEvents, prevEvents, stored.Rejected);
    }

    /// <summary>Reads <c>auth_events</c> or <c>prev_events</c>: IDs (v3+) or [ID, hashes] pairs (v1, v2).</summary>
    private static List<string>? EventIds(JsonNode? node)
    {
        if (node is null) return [];
        if (node is not JsonArray array) return null;
        var ids = new List<string>(array.Count);
        foreach (var entry in array)
        {
            var id = entry switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonArray { Count: > 0 } pair when pair[0] is JsonValue v && v.TryGetValue<string>(out var s) => s,
                _ => null,
            };
            if (id is null) return null;
            ids.Add(id);
        }
        return ids;
    }

    private static string? Text(JsonObject obj, string key) => obj[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static long Integer(JsonObject obj, string key) => obj[key] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;
}
