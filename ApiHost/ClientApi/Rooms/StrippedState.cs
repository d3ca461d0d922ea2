using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>
/// The stripped state of a room for someone not in it (spec "Stripped state"): its create event, join rules,
/// name, avatar, canonical alias and encryption, and the user's own membership, each as type, state_key,
/// sender and content. What invites and knocks show, and what an invite to another server carries.
/// </summary>
public static class StrippedState
{
    public static async Task<JsonArray> OfAsync(RoomReader rooms, string roomId, string userId)
    {
        var stripped = new JsonArray();
        var seen = new HashSet<(string, string)>();
        foreach (var row in await rooms.GetCurrentStateAsync(roomId))
        {
            var pdu = StoredJson.Parse(row.Json)!;
            var type = pdu["type"]!.GetValue<string>();
            var stateKey = pdu["state_key"]?.GetValue<string>() ?? "";
            if (!Shown(type, stateKey, userId)) continue;
            seen.Add((type, stateKey));
            stripped.Add(new JsonObject
            {
                ["type"] = type, ["state_key"] = stateKey, ["sender"] = pdu["sender"]?.DeepClone(), ["content"] = pdu["content"]?.DeepClone(),
            });
        }
        // An invite from another server to a room this server is not in: the state it came with fills in the rest.
        if (!seen.Contains(("m.room.create", "")) && await rooms.GetInviteRoomStateAsync(roomId, userId) is { } stored)
        {
            foreach (var node in StoredJson.Parse(stored) as JsonArray ?? [])
            {
                if (node is JsonObject e && e["type"] is JsonValue t && t.TryGetValue<string>(out var type) &&
                    e["state_key"] is JsonValue k && k.TryGetValue<string>(out var stateKey) && seen.Add((type, stateKey)))
                {
                    stripped.Add(e.DeepClone());
                }
            }
        }
        return stripped;
    }

    private static bool Shown(string type, string stateKey, string userId) =>
        type is "m.room.create" or "m.room.join_rules" or "m.room.name" or "m.room.avatar" or "m.room.canonical_alias" or "m.room.encryption" ||
        (type == "m.room.member" && stateKey == userId);
}
