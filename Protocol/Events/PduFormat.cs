using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The checks a PDU from another server must pass before anything else looks at it (server-server-api
/// "Checks performed on receipt of a PDU", 1: a valid event for the room version): the fields every
/// room version requires, of the right kinds; the size limits; canonical JSON (the hashes and
/// signatures are over it); and, for room versions 3+, no <c>event_id</c> field. Also reads what the
/// later checks need: the event's ID, the references it cites, the servers that must have signed it.
/// </summary>
public static class PduFormat
{
    public const int MaxPduBytes = 65_536;
    public const int MaxReferences = 20;

    /// <summary>The first problem with <paramref name="pdu"/> as an event of <paramref name="version"/>, or null.</summary>
    public static string? Problem(JsonObject pdu, RoomVersion version)
    {
        foreach (var field in new[] { "room_id", "sender", "type" })
        {
            if (Text(pdu[field]) is not { Length: > 0 }) return $"'{field}' must be a non-empty string";
        }
        if (!RoomId.TryParse(Text(pdu["room_id"]), out _)) return "'room_id' is not a room ID";
        if (!UserId.TryParse(Text(pdu["sender"]), out _)) return "'sender' is not a user ID";
        if (pdu["content"] is not JsonObject) return "'content' must be an object";
        if (!Integer(pdu["origin_server_ts"], out _)) return "'origin_server_ts' must be an integer";
        if (!Integer(pdu["depth"], out var depth) || depth < 0) return "'depth' must be a non-negative integer";
        if (pdu["state_key"] is { } stateKey && Text(stateKey) is null) return "'state_key' must be a string";
        if (Text(pdu["hashes"]?["sha256"]) is null) return "'hashes.sha256' is missing";
        if (pdu["signatures"] is not JsonObject) return "'signatures' must be an object";
        foreach (var field in new[] { "prev_events", "auth_events" })
        {
            if (References(pdu[field], version) is not { } ids) return $"'{field}' is not a list of event references for room version {version.Id}";
            if (ids.Count > MaxReferences) return $"'{field}' cites more than {MaxReferences} events";
        }
        if (version.EventIdsAreServerScoped)
        {
            if (!EventId.TryParse(Text(pdu["event_id"]), out _)) return "'event_id' is missing or not an event ID";
        }
        string json;
        try
        {
            json = CanonicalJson.ToCanonicalString(pdu);
        }
        catch (CanonicalJsonException e)
        {
            return $"the event is not canonical JSON: {e.Message}";
        }
        if (Encoding.UTF8.GetByteCount(json) > MaxPduBytes) return $"the event is larger than {MaxPduBytes} bytes";
        foreach (var field in new[] { "sender", "type", "state_key", "room_id", "event_id" })
        {
            if (Text(pdu[field]) is { } value && Encoding.UTF8.GetByteCount(value) > 255) return $"'{field}' is longer than 255 bytes";
        }
        return null;
    }

    /// <summary>The event's ID: its <c>event_id</c> in room versions 1 and 2, its reference hash from version 3.</summary>
    public static string EventIdOf(JsonObject pdu, RoomVersion version) =>
        version.EventIdsAreServerScoped ? Text(pdu["event_id"])! : EventIds.Compute(pdu, version).ToString();

    /// <summary><c>prev_events</c> or <c>auth_events</c> as IDs: plain IDs from room version 3, [ID, hashes] pairs before.</summary>
    public static IReadOnlyList<string>? References(JsonNode? node, RoomVersion version)
    {
        if (node is not JsonArray array) return null;
        var ids = new List<string>(array.Count);
        foreach (var entry in array)
        {
            var id = version.EventIdsAreServerScoped
                ? entry is JsonArray { Count: 2 } pair && pair[1] is JsonObject ? Text(pair[0]) : null
                : Text(entry);
            if (!EventId.TryParse(id, out _)) return null;
            ids.Add(id!);
        }
        return ids;
    }

    /// <summary>
    /// The servers whose signatures the event needs (spec "Validating hashes and signatures on received
    /// events"): the sender's; in room versions 1 and 2 the event ID's; from version 8, the server of the
    /// user a restricted join was authorised by.
    /// </summary>
    public static IReadOnlyList<string> SigningServers(JsonObject pdu, RoomVersion version)
    {
        var servers = new List<string> { UserId.Parse(Text(pdu["sender"])!).Server.ToString() };
        if (version.EventIdsAreServerScoped && Text(pdu["event_id"]) is { } eventId && eventId.IndexOf(':') is var colon and > 0)
        {
            servers.Add(eventId[(colon + 1)..]);
        }
        if (version.RestrictedJoinAllowed && Text(pdu["type"]) == "m.room.member" && Text(pdu["content"]?["membership"]) == "join" &&
            UserId.TryParse(Text(pdu["content"]?["join_authorised_via_users_server"]), out var via))
        {
            servers.Add(via.Server.ToString());
        }
        return [.. servers.Distinct(StringComparer.Ordinal)];
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool Integer(JsonNode? node, out long value)
    {
        value = 0;
        return node is JsonValue v && v.TryGetValue(out value);
    }
}
