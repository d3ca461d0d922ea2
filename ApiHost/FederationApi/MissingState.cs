using System.Text.Json.Nodes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.Logging;
using Orleans;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The state at prev events the room lacks when <see cref="MissingEvents"/> could not close the gap (server-server-api
/// "Checks performed on receipt of a PDU"; Synapse's <c>_get_state_ids_after_missing_prev_event</c>): for each
/// missing prev event, <c>GET /state_ids</c> from the sending server, then the events the room does not hold, one by
/// one with <c>GET /event</c> when they are few, or all at once with <c>GET /state</c> when they are many, as Synapse
/// does. Each is checked as any received PDU before the room grain takes them as outliers. The work is bounded: a
/// few prev events per PDU, a few PDUs per transaction, a cap on the events fetched.
/// </summary>
public sealed partial class MissingState(IFederationClient client, PduVerifier verifier, RoomDagStore dag, IGrainFactory grains,
    ILogger<MissingState> logger)
{
    public const int MaxPrevEventsFilled = 3;

    /// <summary>Events fetched one by one for one prev event, at most; past this (or a tenth of its state and auth chain) /state is asked instead.</summary>
    public const int MaxSingleFetches = 50;

    /// <summary>Events fetched for one PDU's gap, at most (the room grain takes no more at once).</summary>
    public const int MaxFetched = 5_000;

    private const int MaxIds = 50_000;

    /// <summary>Whether the room now holds the state at every prev event of <paramref name="pdu"/> it lacked.</summary>
    public async Task<bool> FillAsync(string origin, string roomId, RoomVersion version, ReceivedPdu pdu, CancellationToken cancellationToken)
    {
        var prevIds = (PduFormat.References(pdu.Pdu["prev_events"], version) ?? []).Distinct(StringComparer.Ordinal).ToList();
        var held = (await dag.GetEventsAsync(roomId, prevIds, cancellationToken)).ToDictionary(e => e.EventId, StringComparer.Ordinal);
        // A prev event held without its state (an outlier) cannot be given one here.
        if (held.Values.Any(e => e.StateAfter is null)) return false;
        var missing = prevIds.Where(id => !held.ContainsKey(id)).ToList();
        if (missing.Count == 0 || missing.Count > MaxPrevEventsFilled) return false;

        var fetched = new Dictionary<string, ReceivedPdu>(StringComparer.Ordinal);
        var states = new List<PrevEventState>();
        foreach (var prev in missing)
        {
            var ids = await GetAsync(origin, $"/_matrix/federation/v1/state_ids/{Uri.EscapeDataString(roomId)}?event_id={Uri.EscapeDataString(prev)}",
                roomId, cancellationToken);
            if (Ids(ids?["pdu_ids"]) is not { } stateIds || Ids(ids?["auth_chain_ids"]) is not { } authIds) return false;
            var needed = stateIds.Concat(authIds).Append(prev).Where(id => !fetched.ContainsKey(id)).Distinct(StringComparer.Ordinal).ToList();
            var holds = await dag.GetPdusAsync(roomId, needed, cancellationToken);
            var lacking = needed.Where(id => !holds.ContainsKey(id)).ToList();
            if (lacking.Count > MaxSingleFetches || lacking.Count * 10 >= stateIds.Count + authIds.Count)
            {
                var whole = await GetAsync(origin, $"/_matrix/federation/v1/state/{Uri.EscapeDataString(roomId)}?event_id={Uri.EscapeDataString(prev)}",
                    roomId, cancellationToken);
                foreach (var list in new[] { whole?["pdus"], whole?["auth_chain"] })
                {
                    foreach (var node in (list as JsonArray ?? []).Take(MaxIds)) await AddAsync(node, null);
                }
            }
            foreach (var id in lacking.Where(id => !fetched.ContainsKey(id)).Take(MaxSingleFetches))
            {
                var one = await GetAsync(origin, $"/_matrix/federation/v1/event/{Uri.EscapeDataString(id)}", roomId, cancellationToken);
                if (one?["pdus"] is JsonArray { Count: 1 } pdus) await AddAsync(pdus[0], id);
            }
            if (fetched.Count > MaxFetched) return false;
            states.Add(new PrevEventState(prev, stateIds));
        }
        var filled = await grains.GetGrain<IRoomGrain>(roomId).AddPrevEventStatesAsync(states, [.. fetched.Values], cancellationToken);
        return filled == missing.Count;

        async Task AddAsync(JsonNode? node, string? expectedId)
        {
            if (node is not JsonObject candidate) return;
            var (ok, refusal) = await verifier.VerifyAsync(candidate, version, cancellationToken);
            if (ok is null || ok.Pdu["room_id"]?.GetValue<string>() != roomId || expectedId is not null && ok.EventId != expectedId)
            {
                Refused(origin, roomId, refusal ?? "of another room, or not the event asked for");
                return;
            }
            fetched.TryAdd(ok.EventId, new ReceivedPdu(ok.EventId, ok.Pdu));
        }
    }

    private static List<string>? Ids(JsonNode? node)
    {
        if (node is not JsonArray array || array.Count > MaxIds) return null;
        var ids = new List<string>(array.Count);
        foreach (var entry in array)
        {
            if (entry is not JsonValue v || !v.TryGetValue<string>(out var id) || !Protocol.EventId.TryParse(id, out _)) return null;
            ids.Add(id);
        }
        return ids;
    }

    private async Task<JsonObject?> GetAsync(string origin, string pathAndQuery, string roomId, CancellationToken cancellationToken)
    {
        try
        {
            var response = await client.SendAsync(new FederationRequest(HttpMethod.Get, origin, pathAndQuery)
            {
                MaxResponseBytes = ClientApi.Federation.RemoteMemberships.MaxSendJoinAnswerBytes,
            }, cancellationToken);
            if (response.IsSuccess && response.Body is JsonObject body) return body;
            Failed(origin, roomId, $"{pathAndQuery.Split('?')[0]}: HTTP {response.StatusCode}");
        }
        catch (FederationRequestException e)
        {
            Failed(origin, roomId, e.Message);
        }
        return null;
    }

    [LoggerMessage(EventId = 5013, Level = LogLevel.Information, Message = "Asking {Origin} for the state at a gap in {RoomId} failed: {Reason}")]
    private partial void Failed(string origin, string roomId, string reason);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Information, Message = "An event of the state at a gap in {RoomId} from {Origin} was refused: {Reason}")]
    private partial void Refused(string origin, string roomId, string reason);
}
