using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Grains.Interfaces;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>The spec's /sync filter: which rooms, and which events of each section, with the timeline limit.</summary>
public sealed class SyncFilter
{
    public const int DefaultTimelineLimit = 10;

    public static readonly SyncFilter None = new(null);

    public SyncFilter(JsonObject? filter)
    {
        var room = filter?["room"] as JsonObject;
        Rooms = RoomEventFilter.From(room is null ? null : new JsonObject { ["rooms"] = room["rooms"]?.DeepClone(), ["not_rooms"] = room["not_rooms"]?.DeepClone() });
        Timeline = RoomEventFilter.From(room?["timeline"]);
        State = RoomEventFilter.From(room?["state"]);
        Ephemeral = RoomEventFilter.From(room?["ephemeral"]);
        RoomAccountData = RoomEventFilter.From(room?["account_data"]);
        AccountData = RoomEventFilter.From(filter?["account_data"]);
        Presence = RoomEventFilter.From(filter?["presence"]);
        IncludeLeave = room?["include_leave"] is JsonValue v && v.TryGetValue<bool>(out var include) && include;
        TimelineLimit = Timeline?.Limit ?? DefaultTimelineLimit;
        var unseen = new HashSet<string>(StringComparer.Ordinal);
        if (Presence?.ExcludesAllOf("m.presence") == true) unseen.Add(StreamNames.Presence);
        if (Ephemeral?.ExcludesAllOf("m.typing") == true) unseen.Add(StreamNames.Typing);
        UnseenStreams = unseen;
    }

    /// <summary>
    /// Streams whose rows this filter never shows: a sync woken only by them has nothing to answer
    /// (in a big room every member's presence change would otherwise rebuild every member's sync).
    /// </summary>
    public IReadOnlySet<string> UnseenStreams { get; }

    public RoomEventFilter? Rooms { get; }
    public RoomEventFilter? Timeline { get; }
    public RoomEventFilter? State { get; }
    public RoomEventFilter? Ephemeral { get; }
    public RoomEventFilter? RoomAccountData { get; }
    public RoomEventFilter? AccountData { get; }
    public RoomEventFilter? Presence { get; }
    public bool IncludeLeave { get; }
    public int TimelineLimit { get; }

    public bool AllowsRoom(string roomId) => Rooms?.AllowsRoom(roomId) ?? true;

    public static bool Allows(RoomEventFilter? filter, JsonObject clientEvent) => filter?.Allows(clientEvent) ?? true;

    /// <summary>A room's event through a section's filter, the section's own <c>rooms</c>/<c>not_rooms</c> included.</summary>
    public static bool Allows(RoomEventFilter? filter, string roomId, JsonObject clientEvent) =>
        filter is null || (filter.AllowsRoom(roomId) && filter.Allows(clientEvent));
}
