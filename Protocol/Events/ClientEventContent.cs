using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// Checks on the content of events that local clients send, beyond the auth rules (which every
/// server applies to every event): what Synapse's event validator refuses with 400 M_BAD_JSON.
/// A room accepts only what every reader can make sense of; a power-levels event whose maps are
/// not objects would otherwise leave the room with nobody able to change anything.
/// </summary>
public static class ClientEventContent
{
    private static readonly string[] LevelKeys = ["ban", "events_default", "invite", "kick", "redact", "state_default", "users_default"];
    private static readonly string[] LevelMaps = ["events", "notifications", "users"];

    /// <summary>Why the content cannot be sent, or null when it can.</summary>
    public static string? Problem(string type, JsonObject content, RoomVersion version) => type switch
    {
        "m.room.power_levels" => PowerLevelsProblem(content, version),
        _ => null,
    };

    private static string? PowerLevelsProblem(JsonObject content, RoomVersion version)
    {
        // Before room version 10 a level may be a string holding an integer; from 10 only integers.
        var strict = version.EnforceIntegerPowerLevels;
        foreach (var key in LevelKeys)
        {
            if (content[key] is { } node && !PowerLevels.TryLevel(node, strict, out _)) return $"'{key}' must be an integer.";
            if (content.ContainsKey(key) && content[key] is null) return $"'{key}' must be an integer.";
        }
        foreach (var map in LevelMaps)
        {
            if (!content.ContainsKey(map)) continue;
            if (content[map] is not JsonObject levels) return $"'{map}' must be an object of integers.";
            foreach (var (name, level) in levels)
            {
                if (level is null || !PowerLevels.TryLevel(level, strict, out _)) return $"'{map}.{name}' must be an integer.";
            }
        }
        return null;
    }
}
