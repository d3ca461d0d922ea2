using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// History from before this server joined the room, fetched from a resident server when a client pages
/// back past the room's first event here (server-server-api "Backfilling and retrieving missing events").
/// The API host checks format, hashes and signatures; here each event must pass the auth rules against its
/// auth events, which the room holds (the send_join auth chain brings nearly all of them) or which came in
/// the same batch, auth events first. An event that fails is stored as rejected; one whose auth events are
/// nowhere is left for a later backfill. The state before a fetched event is not known here, so it is not
/// checked against it (Synapse asks for that state with /state_ids; this server does not yet). What passes
/// goes before the room's first event, in the order of the DAG, and is history only: no sync, pusher or
/// federation sender sees it as new, and the current state does not change. The state a remote join
/// brought moves into its place in the history when backfill reaches it.
/// </summary>
public sealed partial class RoomWriter
{
    /// <summary>Events one backfill call may bring; a remote's /backfill answer is capped at 100.</summary>
    public const int MaxBackfilledPerCall = 200;

    public async Task<BackfillOutcome> BackfillAsync(IReadOnlyList<ReceivedPdu> pdus)
    {
        var state = _state ?? throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        if (pdus.Count > MaxBackfilledPerCall) throw new MatrixException(400, "M_TOO_LARGE", $"At most {MaxBackfilledPerCall} events at once.");
        var version = state.Version;
        var batch = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var pdu in pdus)
        {
            if (Text(pdu.Pdu["room_id"]) == RoomId) batch.TryAdd(pdu.EventId, pdu.Pdu);
        }
        if (batch.Count == 0) return new BackfillOutcome(0, 0);

        // What the room holds already: shown history is skipped; outliers (a join's state, an auth chain) were checked when they came.
        var placed = await dag.GetTimelineOutliersAsync(RoomId, batch.Keys);
        var held = (await dag.GetEventsAsync(RoomId, batch.Keys)).ToDictionary(e => e.EventId, StringComparer.Ordinal);
        var candidates = batch.Where(kv => !(placed.TryGetValue(kv.Key, out var outlier) && !outlier) &&
                (!held.TryGetValue(kv.Key, out var row) || row.Status == DagStatus.Outlier))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (candidates.Count == 0) return new BackfillOutcome(0, 0);

        // The auth events the batch cites from outside it, with their status.
        var citedAuth = candidates.Values.SelectMany(p => PduFormat.References(p["auth_events"], version) ?? [])
            .Where(id => !candidates.ContainsKey(id)).Distinct(StringComparer.Ordinal).ToList();
        var known = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (id, json) in await dag.GetPdusAsync(RoomId, citedAuth)) known[id] = StoredJson.Parse(json)!.AsObject();
        var rejected = (await dag.GetEventsAsync(RoomId, citedAuth)).Where(e => e.Status == DagStatus.Rejected)
            .ToDictionary(e => e.EventId, e => e.RejectedReason ?? "rejected before", StringComparer.Ordinal);

        var (accepted, newlyRejected, pending) = DecideByAuthEvents(candidates, known, rejected, trusted: held.Keys.ToHashSet(StringComparer.Ordinal), version);

        // In the DAG's order, oldest first, all before the room's first event.
        var ordered = HistoryOrder(accepted, candidates, version);
        var first = Math.Min(await dag.GetFirstRoomSeqAsync(RoomId) ?? 1, 1);
        var events = new List<NewEvent>(ordered.Count);
        for (var i = 0; i < ordered.Count; i++)
        {
            var id = ordered[i];
            var pdu = candidates[id];
            var type = Text(pdu["type"])!;
            var content = pdu["content"] as JsonObject ?? [];
            var sender = Text(pdu["sender"])!;
            var redacts = type == "m.room.redaction" ? Text(version.RedactionV11 ? content["redacts"] : pdu["redacts"]) : null;
            events.Add(new NewEvent(id, first - ordered.Count + i, DepthOf(pdu), type, Text(pdu["state_key"]), sender,
                pdu["origin_server_ts"] is JsonValue ts && ts.TryGetValue<long>(out var t) ? t : 0,
                type == "m.room.member" ? Text(content["membership"]) : null, CanonicalJson.ToCanonicalString(pdu),
                redacts is not null && await MayRedactInHistoryAsync(state, sender, redacts, candidates) ? redacts : null, RelationOf(content)));
        }

        // The new earliest events' prev events that the room lacks are where the next backfill asks from.
        var decided = accepted.Concat(newlyRejected.Select(r => r.EventId)).ToHashSet(StringComparer.Ordinal);
        var prevIds = accepted.SelectMany(id => PduFormat.References(candidates[id]["prev_events"], version) ?? [])
            .Where(id => !decided.Contains(id)).Distinct(StringComparer.Ordinal).ToList();
        var prevPlaces = await dag.GetTimelineOutliersAsync(RoomId, prevIds);
        var prevRows = (await dag.GetEventsAsync(RoomId, prevIds)).ToDictionary(e => e.EventId, StringComparer.Ordinal);
        var newExtremities = prevIds.Where(id => !(prevPlaces.TryGetValue(id, out var outlier) && !outlier) &&
            !(prevRows.TryGetValue(id, out var row) && row.Status is DagStatus.Rejected or DagStatus.SoftFailed)).ToList();

        // Redactions that came before the events they redact (newer history arrives first) take effect now.
        var lateRedactions = new List<(string, string)>();
        foreach (var (redactionId, sender, target) in await dag.GetRedactionsTargetingAsync(RoomId, ordered))
        {
            if (await MayRedactInHistoryAsync(state, sender, target, candidates)) lateRedactions.Add((target, redactionId));
        }
        var change = new BackfillChange(events, newlyRejected, [.. decided], newExtremities, lateRedactions);
        try
        {
            await store.BackfillAsync(RoomId, state.Epoch, change, settings.InstanceName);
        }
        catch (WriterFencedException e)
        {
            deactivate();
            throw MatrixException.Unavailable($"{e.Message} Retry the request.");
        }
        log.Backfilled(RoomId, events.Count, newlyRejected.Count, pending);
        return new BackfillOutcome(events.Count, newlyRejected.Count);
    }

    /// <summary>
    /// Decides fetched events by their auth events, auth events first: an event is decided once each of its auth
    /// events is <paramref name="known"/> (held, or accepted here) or <paramref name="rejected"/>; it is accepted when
    /// it passes the auth rules against them (or is <paramref name="trusted"/>: checked when it first came), rejected
    /// otherwise. Accepted events join <paramref name="known"/>, rejected ones <paramref name="rejected"/>; those whose
    /// auth events are nowhere stay undecided.
    /// </summary>
    private static (List<string> Accepted, List<DagEventRow> Rejected, int Undecided) DecideByAuthEvents(IReadOnlyDictionary<string, JsonObject> candidates,
        Dictionary<string, JsonObject> known, Dictionary<string, string> rejected, IReadOnlySet<string> trusted, RoomVersion version)
    {
        var accepted = new List<string>();
        var newlyRejected = new List<DagEventRow>();
        var pending = candidates.Keys.OrderBy(id => DepthOf(candidates[id])).ThenBy(id => id, StringComparer.Ordinal).ToList();
        for (var progress = true; progress && pending.Count > 0;)
        {
            progress = false;
            foreach (var id in pending.ToList())
            {
                var pdu = candidates[id];
                var authIds = PduFormat.References(pdu["auth_events"], version) ?? [];
                if (authIds.Any(a => !known.ContainsKey(a) && !rejected.ContainsKey(a))) continue;
                pending.Remove(id);
                progress = true;
                var problem = trusted.Contains(id) ? null : AuthChainProblem(pdu, known, rejected, version);
                if (problem is null)
                {
                    accepted.Add(id);
                    known[id] = pdu;
                }
                else
                {
                    rejected[id] = problem;
                    newlyRejected.Add(new DagEventRow(id, DagStatus.Rejected, null, null, problem, CanonicalJson.ToCanonicalString(pdu)));
                }
            }
        }
        return (accepted, newlyRejected, pending.Count);
    }

    private static long DepthOf(JsonObject pdu) => pdu["depth"] is JsonValue d && d.TryGetValue<long>(out var depth) ? depth : long.MaxValue;

    /// <summary>
    /// The accepted events with every event after those of them it cites (its prev events), ties by depth, then
    /// timestamp, then ID: a hostile depth cannot put an event before one it cites.
    /// </summary>
    private static List<string> HistoryOrder(IReadOnlyList<string> accepted, IReadOnlyDictionary<string, JsonObject> pdus, RoomVersion version)
    {
        var inBatch = accepted.ToHashSet(StringComparer.Ordinal);
        var waitingOn = new Dictionary<string, int>(StringComparer.Ordinal);
        var citedBy = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var id in accepted)
        {
            var prevs = (PduFormat.References(pdus[id]["prev_events"], version) ?? []).Where(inBatch.Contains).Distinct(StringComparer.Ordinal).ToList();
            waitingOn[id] = prevs.Count;
            foreach (var p in prevs)
            {
                if (!citedBy.TryGetValue(p, out var list)) citedBy[p] = list = [];
                list.Add(id);
            }
        }
        var ready = new PriorityQueue<string, (long, long, string)>(Comparer<(long, long, string)>.Create((a, b) =>
            a.Item1 != b.Item1 ? a.Item1.CompareTo(b.Item1) : a.Item2 != b.Item2 ? a.Item2.CompareTo(b.Item2) : string.CompareOrdinal(a.Item3, b.Item3)));
        foreach (var (id, count) in waitingOn)
        {
            if (count == 0) ready.Enqueue(id, Key(id));
        }
        var order = new List<string>(accepted.Count);
        while (ready.TryDequeue(out var id, out _))
        {
            order.Add(id);
            foreach (var next in citedBy.GetValueOrDefault(id) ?? [])
            {
                if (--waitingOn[next] == 0) ready.Enqueue(next, Key(next));
            }
        }
        // Events that cite each other in a cycle (no valid DAG has one) go last, by depth.
        order.AddRange(accepted.Where(id => waitingOn[id] > 0).OrderBy(Key));
        return order;

        (long, long, string) Key(string id) => (
            pdus[id]["depth"] is JsonValue d && d.TryGetValue<long>(out var depth) ? depth : long.MaxValue,
            pdus[id]["origin_server_ts"] is JsonValue t && t.TryGetValue<long>(out var ts) ? ts : 0,
            id);
    }

    /// <summary>As for new events, with the target also looked for among the events fetched with the redaction.</summary>
    private async Task<bool> MayRedactInHistoryAsync(RoomState state, string sender, string target, IReadOnlyDictionary<string, JsonObject> batch)
    {
        if (!batch.TryGetValue(target, out var original)) return await MayRedactAsync(state, sender, target);
        var originalSender = Text(original["sender"]);
        var power = state.AuthState.PowerLevels(state.Version);
        return originalSender == sender || power.UserLevel(sender) >= power.Redact ||
            (state.Version.Number >= 3 && UserId.TryParse(originalSender, out var o) && UserId.TryParse(sender, out var s) && o.Server.Equals(s.Server));
    }
}
