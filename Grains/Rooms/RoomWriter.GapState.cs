using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// A gap too long for <c>/get_missing_events</c> (server-server-api "Checks performed on receipt of a PDU": the
/// state before an event whose prev events are missing is taken from the state at them, as a server in the room
/// gives it with <c>/state_ids</c>). The missing prev events and the state and auth chain events the room lacked
/// are checked against their auth events, auth events first, and kept as outliers (a failing one as rejected);
/// each prev event gets the state before and after it as state groups, so the event citing it is then received
/// as any other: checked against the resolved state before it, and against the current state. Nothing else moves:
/// not the tips, not the current state.
/// </summary>
public sealed partial class RoomWriter
{
    /// <summary>Events one gap may bring (the prev events, and the state and auth chain the room lacked).</summary>
    public const int MaxGapEvents = 5_000;

    /// <summary>State entries one prev event's state may hold, as for a remote join.</summary>
    public const int MaxGapStateEntries = MaxRemoteJoinEvents;

    public async Task<int> AddPrevEventStatesAsync(IReadOnlyList<PrevEventState> prevs, IReadOnlyList<ReceivedPdu> fetched)
    {
        var state = _state ?? throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        if (fetched.Count > MaxGapEvents) throw new MatrixException(400, "M_TOO_LARGE", $"At most {MaxGapEvents} events at once.");
        if (prevs.Any(p => p.StateIds.Count > MaxGapStateEntries)) throw new MatrixException(400, "M_TOO_LARGE", $"At most {MaxGapStateEntries} state entries.");
        var version = state.Version;
        var batch = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var pdu in fetched)
        {
            if (Text(pdu.Pdu["room_id"]) == RoomId) batch.TryAdd(pdu.EventId, pdu.Pdu);
        }

        var mentioned = batch.Keys.Concat(prevs.Select(p => p.PrevEventId)).Concat(prevs.SelectMany(p => p.StateIds)).ToHashSet(StringComparer.Ordinal);
        var held = (await dag.GetEventsAsync(RoomId, mentioned)).ToDictionary(e => e.EventId, StringComparer.Ordinal);
        var candidates = batch.Where(kv => !held.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var citedAuth = candidates.Values.SelectMany(p => PduFormat.References(p["auth_events"], version) ?? [])
            .Where(id => !candidates.ContainsKey(id)).Distinct(StringComparer.Ordinal).ToList();
        var known = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (id, json) in await dag.GetPdusAsync(RoomId, citedAuth)) known[id] = StoredJson.Parse(json)!.AsObject();
        var rejected = (await dag.GetEventsAsync(RoomId, citedAuth)).Where(e => e.Status == DagStatus.Rejected)
            .ToDictionary(e => e.EventId, e => e.RejectedReason ?? "rejected before", StringComparer.Ordinal);
        foreach (var row in held.Values.Where(e => e.Status == DagStatus.Rejected)) rejected[row.EventId] = row.RejectedReason ?? "rejected before";
        var (accepted, newlyRejected, _) = DecideByAuthEvents(candidates, known, rejected, trusted: new HashSet<string>(), version);
        var acceptedSet = accepted.ToHashSet(StringComparer.Ordinal);

        // The held state events' types and keys.
        var heldState = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (id, json) in await dag.GetPdusAsync(RoomId, [.. prevs.SelectMany(p => p.StateIds).Where(held.ContainsKey).Distinct()]))
        {
            heldState[id] = StoredJson.Parse(json)!.AsObject();
        }

        var groups = new List<NewStateGroup>();
        var prevRows = new Dictionary<string, DagEventRow>(StringComparer.Ordinal);
        foreach (var prev in prevs)
        {
            var id = prev.PrevEventId;
            // A prev event the room holds already is not for this (an outlier without state stays so), nor one that failed.
            if (held.ContainsKey(id) || !acceptedSet.Contains(id) || prevRows.ContainsKey(id)) continue;
            var before = new Dictionary<(string Type, string StateKey), string>();
            var usable = true;
            foreach (var stateId in prev.StateIds.Distinct(StringComparer.Ordinal))
            {
                if (rejected.ContainsKey(stateId)) continue;
                var pdu = acceptedSet.Contains(stateId) ? candidates[stateId] : heldState.GetValueOrDefault(stateId);
                if (pdu is null || Text(pdu["type"]) is not { } type || Text(pdu["state_key"]) is not { } stateKey || !before.TryAdd((type, stateKey), stateId))
                {
                    usable = false;
                    break;
                }
            }
            if (!usable) continue;
            var prevPdu = candidates[id];
            var ids = await dag.AllocateStateGroupIdsAsync(Text(prevPdu["state_key"]) is null ? 1 : 2);
            groups.Add(new NewStateGroup(ids[0], null, 0, before));
            var after = ids[0];
            if (Text(prevPdu["state_key"]) is { } key)
            {
                after = ids[1];
                groups.Add(new NewStateGroup(after, ids[0], 1, new Dictionary<(string, string), string> { [(Text(prevPdu["type"])!, key)] = id }));
            }
            prevRows[id] = new DagEventRow(id, DagStatus.Outlier, ids[0], after, null, CanonicalJson.ToCanonicalString(prevPdu));
        }

        var rows = accepted.Select(id => prevRows.GetValueOrDefault(id) ?? new DagEventRow(id, DagStatus.Outlier, null, null, null,
            CanonicalJson.ToCanonicalString(candidates[id]))).Concat(newlyRejected).ToList();
        if (rows.Count == 0) return 0;
        await PersistOrStepDownAsync([], new DagChange(groups, rows, state.ForwardExtremities, state.CurrentStateGroup, CurrentState: []));
        log.GapStateTaken(RoomId, prevRows.Count, accepted.Count, newlyRejected.Count);
        return prevRows.Count;
    }
}
