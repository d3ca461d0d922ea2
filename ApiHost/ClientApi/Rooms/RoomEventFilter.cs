using Homeserver.ApiHost.Http;
using Homeserver.Protocol;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>The spec's RoomEventFilter as /messages takes it: types and senders, with '*' wildcards in types.</summary>
public sealed class RoomEventFilter
{
    private readonly IReadOnlyList<string>? _typeGlobs;
    private readonly IReadOnlyList<string> _notTypeGlobs;
    private readonly IReadOnlyList<Regex>? _types;
    private readonly IReadOnlyList<Regex> _notTypes;
    private readonly IReadOnlySet<string>? _senders;
    private readonly IReadOnlySet<string> _notSenders;

    private readonly IReadOnlySet<string>? _rooms;
    private readonly IReadOnlySet<string> _notRooms;

    private RoomEventFilter(JsonObject filter)
    {
        _rooms = Strings(filter, "rooms")?.ToHashSet();
        _notRooms = (Strings(filter, "not_rooms") ?? []).ToHashSet();
        LazyLoadMembers = filter["lazy_load_members"] is JsonValue lazy && lazy.TryGetValue<bool>(out var l) && l;
        IncludeRedundantMembers = filter["include_redundant_members"] is JsonValue redundant && redundant.TryGetValue<bool>(out var r) && r;
        UnreadThreadNotifications = filter["unread_thread_notifications"] is JsonValue threads && threads.TryGetValue<bool>(out var t) && t;
        _typeGlobs = Strings(filter, "types");
        _notTypeGlobs = Strings(filter, "not_types") ?? [];
        _types = _typeGlobs?.Select(Glob).ToList();
        _notTypes = _notTypeGlobs.Select(Glob).ToList();
        _senders = Strings(filter, "senders")?.ToHashSet();
        _notSenders = (Strings(filter, "not_senders") ?? []).ToHashSet();
        if (filter["limit"] is { } limit)
        {
            Limit = limit is JsonValue v && v.TryGetValue<int>(out var n) && n >= 0
                ? n
                : throw new MatrixException(400, "M_INVALID_PARAM", "The filter's 'limit' must be a non-negative integer.");
        }
    }

    public int? Limit { get; }

    /// <summary>State carries only the members the timeline needs.</summary>
    public bool LazyLoadMembers { get; }

    /// <summary>With lazy loading, members a device was already sent are sent again (/sync).</summary>
    public bool IncludeRedundantMembers { get; }

    public bool UnreadThreadNotifications { get; }

    /// <summary>A filter from a JSON object already parsed (a part of a /sync filter); null allows everything.</summary>
    public static RoomEventFilter? From(JsonNode? filter) => filter switch
    {
        null => null,
        JsonObject o => new RoomEventFilter(o),
        _ => throw new MatrixException(400, "M_INVALID_PARAM", "Each part of a filter must be a JSON object."),
    };

    public bool AllowsRoom(string roomId) => !_notRooms.Contains(roomId) && (_rooms is null || _rooms.Contains(roomId));

    public static RoomEventFilter? Parse(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        if (JsonBody.ParseParameter(json, "filter") is not JsonObject filter) throw new MatrixException(400, "M_INVALID_PARAM", "'filter' must be a JSON object.");
        Sync.FilterDefinition.ValidateRoomEventFilter(filter);
        return new RoomEventFilter(filter);
    }

    /// <summary>Whether no event of <paramref name="type"/> can pass, whoever sends it.</summary>
    public bool ExcludesAllOf(string type) =>
        Limit == 0 || _senders is { Count: 0 } || _notTypes.Any(t => t.IsMatch(type)) || (_types is not null && !_types.Any(t => t.IsMatch(type)));

    /// <summary>The types and senders as a database selection, or null when the filter restricts neither.</summary>
    public EventSelection? Selection() =>
        _typeGlobs is null && _notTypeGlobs.Count == 0 && _senders is null && _notSenders.Count == 0
            ? null
            : new EventSelection(_typeGlobs?.Select(EventSelection.LikePattern).ToArray(), [.. _notTypeGlobs.Select(EventSelection.LikePattern)],
                _senders?.ToArray(), [.. _notSenders]);

    public bool Allows(JsonObject clientEvent)
    {
        var type = clientEvent["type"]?.GetValue<string>() ?? "";
        var sender = clientEvent["sender"]?.GetValue<string>() ?? "";
        if (_notTypes.Any(t => t.IsMatch(type)) || _notSenders.Contains(sender)) return false;
        if (_types is not null && !_types.Any(t => t.IsMatch(type))) return false;
        return _senders is null || _senders.Contains(sender);
    }

    private static List<string>? Strings(JsonObject filter, string key) => filter[key] switch
    {
        null => null,
        JsonArray list => list.Select(i => i is JsonValue v && v.TryGetValue<string>(out var s)
            ? s
            : throw new MatrixException(400, "M_INVALID_PARAM", $"The filter's '{key}' must list strings.")).ToList(),
        _ => throw new MatrixException(400, "M_INVALID_PARAM", $"The filter's '{key}' must be a list."),
    };

    private static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant);
}
