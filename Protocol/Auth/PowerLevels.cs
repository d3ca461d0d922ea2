using System.Globalization;
using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// An <c>m.room.power_levels</c> content read with the spec's defaults. Before room version 10,
/// levels written as strings ("50") count as numbers; from version 10 only integers are valid.
/// </summary>
public sealed class PowerLevels
{
    private readonly JsonObject? _content;
    private readonly string? _creator;

    private PowerLevels(JsonObject? content, string? creator)
    {
        _content = content;
        _creator = creator;
    }

    /// <summary>Levels from a power levels event's content, or (when null) the no-event defaults with the creator at 100.</summary>
    public static PowerLevels From(JsonObject? content, string? creator) => new(content, creator);

    public bool Exists => _content is not null;

    public long Ban => Level("ban", 50);
    public long Kick => Level("kick", 50);
    public long Redact => Level("redact", 50);
    public long Invite => Level("invite", 0);
    public long StateDefault => Level("state_default", Exists ? 50 : 0);
    public long EventsDefault => Level("events_default", 0);
    public long UsersDefault => Level("users_default", 0);

    public long UserLevel(string userId)
    {
        if (!Exists) return userId == _creator ? 100 : 0;
        return _content!["users"] is JsonObject users && users[userId] is { } node && TryLevel(node, strict: false, out var level)
            ? level
            : UsersDefault;
    }

    /// <summary>The level needed to send an event of this type (state or not).</summary>
    public long RequiredFor(string eventType, bool isState) =>
        _content?["events"] is JsonObject events && events[eventType] is { } node && TryLevel(node, strict: false, out var level)
            ? level
            : isState ? StateDefault : EventsDefault;

    public long Notification(string key) =>
        _content?["notifications"] is JsonObject n && n[key] is { } node && TryLevel(node, strict: false, out var level) ? level : 50;

    private long Level(string key, long fallback) =>
        _content?[key] is { } node && TryLevel(node, strict: false, out var level) ? level : fallback;

    /// <summary>Reads a level: an integer, or (when not strict, before v10) a string holding one.</summary>
    public static bool TryLevel(JsonNode node, bool strict, out long level)
    {
        level = 0;
        if (node is not JsonValue value) return false;
        var kind = value.GetValueKind();
        if (kind == System.Text.Json.JsonValueKind.Number)
        {
            return long.TryParse(value.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out level);
        }
        return !strict && kind == System.Text.Json.JsonValueKind.String &&
               long.TryParse(value.GetValue<string>().Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out level);
    }
}
