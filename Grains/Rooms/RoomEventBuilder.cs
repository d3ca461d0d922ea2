using System.Text.Json.Nodes;
using Homeserver.Grains.Hosting;
using Homeserver.Protocol;

namespace Homeserver.Grains.Rooms;

/// <summary>Turns a new event's fields into a complete, hashed and signed PDU with its event ID.</summary>
internal static class RoomEventBuilder
{
    public static (string EventId, JsonObject Pdu) Build(ServerIdentity server, RoomVersion version, string roomId,
        string sender, string type, string? stateKey, JsonObject content, string? redacts, long originServerTs, long depth,
        IReadOnlyList<string> prevEvents, IReadOnlyList<string> authEvents)
    {
        var pdu = new JsonObject
        {
            ["room_id"] = roomId,
            ["sender"] = sender,
            ["type"] = type,
            ["content"] = content.DeepClone(),
            ["origin_server_ts"] = originServerTs,
            ["depth"] = depth,
            ["prev_events"] = new JsonArray(prevEvents.Select(e => (JsonNode)JsonValue.Create(e)!).ToArray()),
            ["auth_events"] = new JsonArray(authEvents.Select(e => (JsonNode)JsonValue.Create(e)!).ToArray()),
        };
        if (stateKey is not null) pdu["state_key"] = stateKey;
        // Before v11 the redacted event is named at the top level; from v11 it lives in content.
        if (redacts is not null && !version.RedactionV11) pdu["redacts"] = redacts;
        if (redacts is not null && version.RedactionV11) pdu["content"]!["redacts"] = redacts;
        if (!version.RedactionV11) pdu["origin"] = server.ServerName;

        string eventId;
        if (version.EventIdsAreServerScoped)
        {
            // Room versions 1 and 2 carry the event ID inside the event, so it is part of what is hashed.
            eventId = EventIds.NewServerScoped(ServerName.Parse(server.ServerName)).ToString();
            pdu["event_id"] = eventId;
            ContentHash.Add(pdu);
            EventSigning.SignEvent(pdu, version, server.ServerName, server.SigningKey);
        }
        else
        {
            ContentHash.Add(pdu);
            EventSigning.SignEvent(pdu, version, server.ServerName, server.SigningKey);
            eventId = EventIds.Compute(pdu, version).ToString();
        }
        return (eventId, pdu);
    }
}
