using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>The state an event is authorized against: (type, state key) to the event's JSON.</summary>
public sealed class RoomAuthState(IReadOnlyDictionary<(string Type, string StateKey), JsonObject> state)
{
    public static RoomAuthState Empty { get; } = new(new Dictionary<(string, string), JsonObject>());

    public JsonObject? Get(string type, string stateKey = "") => state.TryGetValue((type, stateKey), out var e) ? e : null;

    public JsonObject? Create => Get("m.room.create");

    public string? Creator(RoomVersion version) => Create is not { } create
        ? null
        : version.CreatorIsSender ? create["sender"]?.GetValue<string>() : create["content"]?["creator"]?.GetValue<string>();

    public string? Membership(string userId) => Get("m.room.member", userId)?["content"]?["membership"] is JsonValue v &&
        v.TryGetValue<string>(out var m) ? m : null;

    /// <summary>The users whose current membership is <paramref name="membership"/>.</summary>
    public IEnumerable<string> Members(string membership) =>
        state.Keys.Where(k => k.Type == "m.room.member" && Membership(k.StateKey) == membership).Select(k => k.StateKey);

    public string JoinRule => Get("m.room.join_rules")?["content"]?["join_rule"] is JsonValue v && v.TryGetValue<string>(out var r)
        ? r
        : "invite";

    public PowerLevels PowerLevels(RoomVersion version) =>
        Protocol.PowerLevels.From(Get("m.room.power_levels")?["content"] as JsonObject, Creator(version));
}
