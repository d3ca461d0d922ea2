using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>The client format of a stored PDU: the fields clients see, with the event ID and age.</summary>
public static class ClientEvents
{
    private static readonly string[] ClientKeys = ["content", "origin_server_ts", "room_id", "sender", "state_key", "type", "redacts"];

    public static JsonObject Format(RoomEventRow row, long nowMs)
    {
        var pdu = StoredJson.Parse(row.Json)!.AsObject();
        if ((row.RedactedBy is not null || row.ServedPruned) && RoomVersions.TryGet(row.RoomVersion, out var version))
        {
            // Served redacted, per the room version's redaction algorithm.
            pdu = Redaction.Redact(pdu, version);
        }
        var evt = new JsonObject { ["event_id"] = row.EventId };
        foreach (var key in ClientKeys)
        {
            if (pdu.TryGetPropertyValue(key, out var value)) evt[key] = value?.DeepClone();
        }
        var age = nowMs - (pdu["origin_server_ts"]?.GetValue<long>() ?? nowMs);
        evt["unsigned"] = new JsonObject { ["age"] = Math.Max(0, age) };
        if (row.RedactedBy is not null)
        {
            evt["unsigned"]!["redacted_because"] = new JsonObject { ["event_id"] = row.RedactedBy, ["type"] = "m.room.redaction" };
        }
        return evt;
    }
}
