using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Directory;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>
/// What a /publicRooms request asks, from the query string (GET) or the body (POST), as the client and the
/// federation API both take it. <see cref="RoomTypes"/> null is any type; a null in it is rooms without one.
/// </summary>
public sealed record PublicRoomsQuery(int? Limit, string? Since, string SearchTerm, IReadOnlyList<string?>? RoomTypes, bool IncludeAllNetworks,
    string? ThirdPartyInstanceId)
{
    public static PublicRoomsQuery FromQueryString(IQueryCollection query)
    {
        var network = query["include_all_networks"].ToString() switch
        {
            "" or "false" => false,
            "true" => true,
            _ => throw new MatrixException(400, "M_INVALID_PARAM", "'include_all_networks' must be true or false."),
        };
        return new PublicRoomsQuery(ParseLimit(query["limit"].ToString()), NonEmpty(query["since"].ToString()), "", null, network,
            NonEmpty(query["third_party_instance_id"].ToString()));
    }

    public static PublicRoomsQuery FromBody(JsonObject body)
    {
        var limit = body["limit"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<long>(out var l) && l >= 0 => (int?)Math.Min(l, int.MaxValue),
            _ => throw new MatrixException(400, "M_INVALID_PARAM", "'limit' must be a non-negative integer."),
        };
        var filter = body.OptionalObject("filter");
        var roomTypes = filter?["room_types"] switch
        {
            null => null,
            JsonArray list => list.Select(t => t switch
            {
                null => null,
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                _ => throw MatrixException.BadJson("'room_types' lists strings or null."),
            }).ToList(),
            _ => throw MatrixException.BadJson("'room_types' must be a list."),
        };
        return new PublicRoomsQuery(limit, body.OptionalString("since"), (filter?.OptionalString("generic_search_term") ?? "").Trim(), roomTypes,
            body.OptionalBool("include_all_networks", false), body.OptionalString("third_party_instance_id"));
    }

    private static int? ParseLimit(string text) =>
        text.Length == 0 ? null
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) ? limit
        : throw new MatrixException(400, "M_INVALID_PARAM", "'limit' must be a non-negative integer.");

    private static string? NonEmpty(string text) => text.Length == 0 ? null : text;
}

/// <summary>This server's published rooms, filtered and paged with <c>o&lt;offset&gt;</c> tokens.</summary>
public static class PublicRoomList
{
    public const int MaxLimit = 500;

    public static async Task<JsonObject> LocalAsync(DirectoryStore directory, PublicRoomsQuery query)
    {
        var limit = Math.Min(query.Limit ?? MaxLimit, MaxLimit);
        var offset = 0;
        if (query.Since is { } since &&
            (!since.StartsWith('o') || !int.TryParse(since.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out offset)))
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "'since' is not a token of this server.");
        }
        // No room is published in a third-party network's list here (no application services), so only the
        // Matrix list (no instance asked) or all networks have rooms.
        var all = query.ThirdPartyInstanceId is not null && !query.IncludeAllNetworks
            ? []
            : (await directory.GetPublicRoomsAsync()).Select(Describe).Where(r => Matches(r, query)).ToList();
        var page = all.Skip(offset).Take(limit).ToList();
        var response = new JsonObject
        {
            ["chunk"] = new JsonArray(page.Select(r => (JsonNode)r).ToArray()),
            ["total_room_count_estimate"] = all.Count,
        };
        if (offset + page.Count < all.Count) response["next_batch"] = $"o{offset + page.Count}";
        if (offset > 0) response["prev_batch"] = $"o{Math.Max(0, offset - limit)}";
        return response;
    }

    private static JsonObject Describe(PublicRoomRow row)
    {
        var chunk = new JsonObject { ["room_id"] = row.RoomId, ["num_joined_members"] = row.JoinedMembers };
        var state = row.StateJsonArray is null ? [] : StoredJson.Parse(row.StateJsonArray)!.AsArray();
        string? Field(string type, string key) =>
            state.FirstOrDefault(e => e?["type"]?.GetValue<string>() == type)?["content"]?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (Field("m.room.name", "name") is { } name) chunk["name"] = name;
        if (Field("m.room.topic", "topic") is { } topic) chunk["topic"] = topic;
        if (Field("m.room.canonical_alias", "alias") is { } alias) chunk["canonical_alias"] = alias;
        if (Field("m.room.avatar", "url") is { } avatar) chunk["avatar_url"] = avatar;
        if (Field("m.room.create", "type") is { } roomType) chunk["room_type"] = roomType;
        chunk["join_rule"] = Field("m.room.join_rules", "join_rule") ?? "invite";
        chunk["world_readable"] = Field("m.room.history_visibility", "history_visibility") == "world_readable";
        chunk["guest_can_join"] = Field("m.room.guest_access", "guest_access") == "can_join";
        return chunk;
    }

    private static bool Matches(JsonObject room, PublicRoomsQuery query) =>
        (query.SearchTerm.Length == 0 || new[] { "name", "topic", "canonical_alias" }.Any(k =>
            room[k]?.GetValue<string>().Contains(query.SearchTerm, StringComparison.OrdinalIgnoreCase) == true)) &&
        (query.RoomTypes is null || query.RoomTypes.Contains(room["room_type"]?.GetValue<string>()));
}
