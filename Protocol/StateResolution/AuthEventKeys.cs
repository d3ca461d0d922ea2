using System.Text.Json.Nodes;

namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The state keys the authorization rules read for an event (the spec's "auth events selection").
/// v1 resolution checks a conflicted event against these keys of the partially resolved state and
/// nothing else, as Synapse does, so they are also all the unconflicted state it needs to load.
/// </summary>
internal static class AuthEventKeys
{
    public static IEnumerable<(string Type, string StateKey)> For(ResolutionEvent evt)
    {
        // A create event is checked against no state at all.
        if (evt.Type == "m.room.create") yield break;
        yield return ("m.room.create", "");
        yield return ("m.room.power_levels", "");
        yield return ("m.room.member", evt.Sender);
        if (evt.Type != "m.room.member" || evt.StateKey is null) yield break;
        yield return ("m.room.member", evt.StateKey);
        if (evt.Membership is "join" or "invite" or "knock") yield return ("m.room.join_rules", "");
        var content = evt.Json["content"] as JsonObject;
        if (evt.Membership == "invite" && content?["third_party_invite"] is JsonObject { } invite &&
            invite["signed"] is JsonObject signed && Text(signed["token"]) is { } token)
        {
            yield return ("m.room.third_party_invite", token);
        }
        if (evt.Membership == "join" && Text(content?["join_authorised_via_users_server"]) is { } via) yield return ("m.room.member", via);
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
