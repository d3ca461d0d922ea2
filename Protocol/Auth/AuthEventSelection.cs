using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The state an event's authorization reads (the spec's "auth events selection"): the keys its
/// <c>auth_events</c> must be drawn from, and all the state the authorization rules look at for it.
/// </summary>
public static class AuthEventSelection
{
    public static IEnumerable<(string Type, string StateKey)> KeysFor(string type, string sender, string? stateKey, JsonObject? content)
    {
        // A create event is checked against no state at all.
        if (type == "m.room.create") yield break;
        yield return ("m.room.create", "");
        yield return ("m.room.power_levels", "");
        yield return ("m.room.member", sender);
        if (type != "m.room.member" || stateKey is null) yield break;
        yield return ("m.room.member", stateKey);
        var membership = Text(content?["membership"]);
        if (membership is "join" or "invite" or "knock") yield return ("m.room.join_rules", "");
        if (membership == "invite" && content?["third_party_invite"] is JsonObject { } invite &&
            invite["signed"] is JsonObject signed && Text(signed["token"]) is { } token)
        {
            yield return ("m.room.third_party_invite", token);
        }
        if (membership == "join" && Text(content?["join_authorised_via_users_server"]) is { } via) yield return ("m.room.member", via);
    }

    /// <summary>The keys for a PDU; none when it lacks a type or sender (it fails the auth rules anyway).</summary>
    public static IEnumerable<(string Type, string StateKey)> KeysFor(JsonObject pdu) =>
        Text(pdu["type"]) is { } type && Text(pdu["sender"]) is { } sender
            ? KeysFor(type, sender, Text(pdu["state_key"]), pdu["content"] as JsonObject)
            : [];

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
