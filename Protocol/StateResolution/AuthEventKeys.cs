namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The state keys the authorization rules read for an event. v1 resolution checks a conflicted event
/// against these keys of the partially resolved state and nothing else, as Synapse does, so they are
/// also all the unconflicted state it needs to load.
/// </summary>
internal static class AuthEventKeys
{
    public static IEnumerable<(string Type, string StateKey)> For(ResolutionEvent evt) =>
        AuthEventSelection.KeysFor(evt.Type, evt.Sender, evt.StateKey, evt.Json["content"] as System.Text.Json.Nodes.JsonObject);
}
