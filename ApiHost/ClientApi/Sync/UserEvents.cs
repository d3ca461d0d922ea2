using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Storage.Presence;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>The presence and account data events that /sync and the legacy initial syncs both send.</summary>
public static class UserEvents
{
    public static JsonObject Presence(PresenceRow row, long now) =>
        new() { ["type"] = "m.presence", ["sender"] = row.UserId, ["content"] = PresenceEndpoints.Format(row, now) };

    /// <summary>The latest content of each account data type of one room (or the global ones for null), from oldest-first changes.</summary>
    public static IEnumerable<JsonObject> AccountData(IEnumerable<(string? RoomId, string Type, string Content)> changes, string? roomId) => changes
        .Where(c => c.RoomId == roomId)
        .GroupBy(c => c.Type)
        .Select(g => new JsonObject { ["type"] = g.Key, ["content"] = StoredJson.Parse(g.Last().Content) });
}
