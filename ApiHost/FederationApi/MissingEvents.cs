using System.Text.Json.Nodes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.Logging;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The events a received transaction's PDUs build on that the room lacks, asked of the sending server
/// (server-server-api "Retrieving missing events", <c>POST /get_missing_events</c>) between the room's tips
/// and those PDUs, round after round back towards what the room holds. A server catching us up after an
/// outage sends only the latest event of each room, so this is how the rest arrives. The work is bounded
/// per transaction: a few requests, a few score events; what is still missing then stays missing and the
/// PDU is answered with its error.
/// </summary>
public sealed partial class MissingEvents(IFederationClient client, PduVerifier verifier, RoomDagStore dag, ILogger<MissingEvents> logger)
{
    public const int MaxRounds = 5;
    public const int MaxFetchedPerTransaction = 100;
    public const int LimitPerRequest = 20;

    /// <summary>The PDUs with the missing events they cite fetched and put before them; the fetched ones are not the transaction's.</summary>
    public async Task<IReadOnlyList<ReceivedPdu>> WithMissingAsync(string origin, string roomId, RoomVersion version, IReadOnlyList<ReceivedPdu> pdus,
        CancellationToken cancellationToken)
    {
        var all = pdus.ToDictionary(p => p.EventId, StringComparer.Ordinal);
        var fetched = 0;
        for (var round = 0; round < MaxRounds && fetched < MaxFetchedPerTransaction; round++)
        {
            var unknownPrevs = await UnknownPrevsAsync(roomId, version, all.Values, cancellationToken);
            if (unknownPrevs.Count == 0) break;
            var latest = all.Values.Where(p => Prevs(p, version).Any(unknownPrevs.Contains)).Select(p => p.EventId).ToList();
            var earliest = await dag.GetForwardExtremitiesAsync(roomId, cancellationToken);
            if (earliest.Count == 0) break;
            var events = await AskAsync(origin, roomId, earliest, latest, Math.Min(LimitPerRequest, MaxFetchedPerTransaction - fetched), cancellationToken);
            var added = 0;
            foreach (var node in events)
            {
                if (node is not JsonObject pdu || fetched >= MaxFetchedPerTransaction) continue;
                var (ok, refusal) = await verifier.VerifyAsync(pdu, version, cancellationToken);
                if (ok is null || ok.Pdu["room_id"]?.GetValue<string>() != roomId)
                {
                    Refused(origin, roomId, refusal ?? "of another room");
                    continue;
                }
                if (all.TryAdd(ok.EventId, new ReceivedPdu(ok.EventId, ok.Pdu)))
                {
                    added++;
                    fetched++;
                }
            }
            if (added == 0) break;
        }
        // Shallowest first: each event after those it builds on, across the batches the room takes them in.
        return [.. all.Values.OrderBy(p => p.Pdu["depth"] is JsonValue d && d.TryGetValue<long>(out var depth) ? depth : long.MaxValue)];
    }

    private async Task<HashSet<string>> UnknownPrevsAsync(string roomId, RoomVersion version, IEnumerable<ReceivedPdu> pdus, CancellationToken cancellationToken)
    {
        var batch = pdus.ToList();
        var inBatch = batch.Select(p => p.EventId).ToHashSet(StringComparer.Ordinal);
        var cited = batch.SelectMany(p => Prevs(p, version)).Where(id => !inBatch.Contains(id)).ToHashSet(StringComparer.Ordinal);
        if (cited.Count == 0) return cited;
        foreach (var held in await dag.GetEventsAsync(roomId, cited, cancellationToken)) cited.Remove(held.EventId);
        return cited;
    }

    private static IReadOnlyList<string> Prevs(ReceivedPdu pdu, RoomVersion version) => PduFormat.References(pdu.Pdu["prev_events"], version) ?? [];

    private async Task<JsonArray> AskAsync(string origin, string roomId, IReadOnlyList<string> earliest, IReadOnlyList<string> latest, int limit,
        CancellationToken cancellationToken)
    {
        try
        {
            var response = await client.SendAsync(new FederationRequest(HttpMethod.Post, origin,
                $"/_matrix/federation/v1/get_missing_events/{Uri.EscapeDataString(roomId)}", new JsonObject
                {
                    ["earliest_events"] = new JsonArray([.. earliest.Select(e => JsonValue.Create(e))]),
                    ["latest_events"] = new JsonArray([.. latest.Select(e => JsonValue.Create(e))]),
                    ["limit"] = limit,
                    ["min_depth"] = 0,
                }), cancellationToken);
            if (response.IsSuccess && response.Body?["events"] is JsonArray events) return events;
            Failed(origin, roomId, $"HTTP {response.StatusCode}");
        }
        catch (FederationRequestException e)
        {
            Failed(origin, roomId, e.Message);
        }
        return [];
    }

    [LoggerMessage(EventId = 5011, Level = LogLevel.Information, Message = "Asking {Origin} for the missing events of {RoomId} failed: {Reason}")]
    private partial void Failed(string origin, string roomId, string reason);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Information, Message = "A missing event of {RoomId} from {Origin} was refused: {Reason}")]
    private partial void Refused(string origin, string roomId, string reason);
}
