using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The server-server endpoints that read a room's history by walking its DAG backwards along
/// <c>prev_events</c>: <c>backfill</c> and <c>get_missing_events</c>, and <c>timestamp_to_event</c> which finds where to start, for servers with members in the room.
/// </summary>
public static class RoomHistoryFederationEndpoints
{
    /// <summary>Synapse's cap on a backfill; a remote asking for more gets this many.</summary>
    public const int MaxBackfill = 100;

    /// <summary>The spec's default for get_missing_events, and Synapse's cap on it.</summary>
    public const int DefaultMissingEvents = 10;
    public const int MaxMissingEvents = 20;

    public static IEndpointRouteBuilder MapRoomHistoryFederationApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_matrix/federation/v1/backfill/{roomId}", BackfillAsync);
        app.MapPost("/_matrix/federation/v1/get_missing_events/{roomId}", GetMissingEventsAsync);
        app.MapGet("/_matrix/federation/v1/timestamp_to_event/{roomId}", TimestampToEventAsync);
        return app;
    }

    private static async Task<IResult> TimestampToEventAsync(HttpContext http, string roomId, FederationOrigin origin, RoomReader rooms,
        RoomDagStore dag)
    {
        await RoomFederationEndpoints.RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RoomFederationEndpoints.RequireParticipantAsync(rooms, roomId, origin, http.RequestAborted);
        if (!long.TryParse(http.Request.Query["ts"].ToString(), out var ts)) throw new MatrixException(400, "M_INVALID_PARAM", "'ts' must be an integer.");
        var forward = http.Request.Query["dir"].ToString() switch
        {
            "f" => true,
            "b" => false,
            _ => throw new MatrixException(400, "M_INVALID_PARAM", "'dir' must be 'f' or 'b'."),
        };
        var found = await dag.FindEventByTimestampAsync(roomId, ts, forward, http.RequestAborted)
            ?? throw MatrixException.NotFound("No event was sent in that direction from that time.");
        return Results.Json(new JsonObject { ["event_id"] = found.EventId, ["origin_server_ts"] = found.OriginServerTs });
    }

    private static async Task<IResult> BackfillAsync(HttpContext http, string roomId, FederationOrigin origin, RoomReader rooms, RoomDagStore dag,
        ProcessSettings settings, TimeProvider clock)
    {
        await RoomFederationEndpoints.RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RoomFederationEndpoints.RequireParticipantAsync(rooms, roomId, origin, http.RequestAborted);
        var from = http.Request.Query["v"].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).Distinct(StringComparer.Ordinal).ToList();
        if (from.Count == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'v' is missing.");
        var limitText = http.Request.Query["limit"].ToString();
        if (limitText.Length == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'limit' is missing.");
        if (!int.TryParse(limitText, out var limit) || limit < 0) throw new MatrixException(400, "M_INVALID_PARAM", "'limit' must be a non-negative integer.");
        var pdus = await WalkAsync(dag, roomId, from, stopAt: [], Math.Min(limit, MaxBackfill), minDepth: long.MinValue, includeStart: true,
            http.RequestAborted);
        return Results.Json(new JsonObject
        {
            ["origin"] = settings.ServerName,
            ["origin_server_ts"] = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            ["pdus"] = new JsonArray([.. pdus]),
        });
    }

    private static async Task<IResult> GetMissingEventsAsync(HttpContext http, string roomId, FederationOrigin origin, RoomReader rooms,
        RoomDagStore dag)
    {
        await RoomFederationEndpoints.RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RoomFederationEndpoints.RequireParticipantAsync(rooms, roomId, origin, http.RequestAborted);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var earliest = Ids(body, "earliest_events");
        var latest = Ids(body, "latest_events");
        var limit = body["limit"] switch
        {
            null => DefaultMissingEvents,
            JsonValue v when v.TryGetValue<int>(out var n) && n >= 0 => n,
            _ => throw MatrixException.BadJson("'limit' must be a non-negative integer."),
        };
        var minDepth = body["min_depth"] switch
        {
            null => 0L,
            JsonValue v when v.TryGetValue<long>(out var n) => n,
            _ => throw MatrixException.BadJson("'min_depth' must be an integer."),
        };
        var events = await WalkAsync(dag, roomId, latest, [.. earliest], Math.Min(limit, MaxMissingEvents), minDepth, includeStart: false,
            http.RequestAborted);
        // The spec orders the answer oldest first, as the remote will apply it.
        events.Reverse();
        return Results.Json(new JsonObject { ["events"] = new JsonArray([.. events]) });
    }

    private static List<string> Ids(JsonObject body, string name) => body[name] switch
    {
        JsonArray a when a.All(n => n is JsonValue v && v.TryGetValue<string>(out _)) => [.. a.Select(n => n!.GetValue<string>())],
        null => throw new MatrixException(400, "M_MISSING_PARAM", $"'{name}' is missing."),
        _ => throw MatrixException.BadJson($"'{name}' must be a list of event IDs."),
    };

    /// <summary>
    /// Breadth-first along <c>prev_events</c> from <paramref name="start"/>, newest first, never into
    /// <paramref name="stopAt"/> nor below <paramref name="minDepth"/>. Only events in the timeline are
    /// served (accepted or soft-failed); rejected events and outliers are neither given nor walked through.
    /// At most <paramref name="limit"/> events are read, one DAG query per generation, so the work is bounded.
    /// </summary>
    private static async Task<List<JsonNode>> WalkAsync(RoomDagStore dag, string roomId, IReadOnlyList<string> start, HashSet<string> stopAt,
        int limit, long minDepth, bool includeStart, CancellationToken cancellationToken)
    {
        var result = new List<JsonNode>();
        var seen = new HashSet<string>(start, StringComparer.Ordinal);
        seen.UnionWith(stopAt);
        var frontier = start.ToList();
        var first = true;
        while (frontier.Count > 0 && result.Count < limit)
        {
            var rows = await dag.GetEventsAsync(roomId, frontier, cancellationToken);
            var byId = rows.Where(r => r.Status is DagStatus.Accepted or DagStatus.SoftFailed).ToDictionary(r => r.EventId, StringComparer.Ordinal);
            var next = new List<string>();
            foreach (var id in frontier)
            {
                if (!byId.TryGetValue(id, out var row)) continue;
                if (StoredJson.Parse(row.Json) is not JsonObject pdu) continue;
                if (pdu["depth"] is JsonValue d && d.TryGetValue<long>(out var depth) && depth < minDepth) continue;
                if (!first || includeStart)
                {
                    if (result.Count == limit) break;
                    result.Add(pdu);
                }
                if (pdu["prev_events"] is JsonArray prevs)
                {
                    foreach (var prev in prevs)
                    {
                        if (prev is JsonValue p && p.TryGetValue<string>(out var prevId) && seen.Add(prevId)) next.Add(prevId);
                    }
                }
            }
            frontier = next;
            first = false;
        }
        return result;
    }
}
