using System.Text.Json.Nodes;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>The client format of a stored PDU: the fields clients see, with the event ID and age.</summary>
public static class ClientEvents
{
    private static readonly string[] ClientKeys = ["content", "origin_server_ts", "room_id", "sender", "state_key", "type", "redacts"];

    public static JsonObject Format(RoomEventRow row, long nowMs)
    {
        var pdu = JsonNode.Parse(row.Json)!.AsObject();
        var evt = new JsonObject { ["event_id"] = row.EventId };
        foreach (var key in ClientKeys)
        {
            if (pdu.TryGetPropertyValue(key, out var value)) evt[key] = value?.DeepClone();
        }
        var age = nowMs - (pdu["origin_server_ts"]?.GetValue<long>() ?? nowMs);
        evt["unsigned"] = new JsonObject { ["age"] = Math.Max(0, age) };
        return evt;
    }
}
