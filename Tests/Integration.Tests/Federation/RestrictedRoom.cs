using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>A createRoom body for a private room whose join rule lets in the members of one other room (client-server "Restricted rooms").</summary>
internal static class RestrictedRoom
{
    public static JsonObject CreateBody(string allowedRoomId) => new()
    {
        ["preset"] = "private_chat",
        ["initial_state"] = new JsonArray(new JsonObject
        {
            ["type"] = "m.room.join_rules",
            ["state_key"] = "",
            ["content"] = new JsonObject
            {
                ["join_rule"] = "restricted",
                ["allow"] = new JsonArray(new JsonObject { ["type"] = "m.room_membership", ["room_id"] = allowedRoomId }),
            },
        }),
    };
}
