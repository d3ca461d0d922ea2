using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// One of our users joining a room that lives on other servers (server-server-api "Joining Rooms", the
/// joining server's side): the resident's send_join answer brings the state before the join and its auth
/// chain. Each of those events is authorized against its own auth events, auth events first, and one that
/// fails is stored as rejected and left out of the state; the join must then pass against that state. All
/// of it is written in one transaction: the state events into the room's events as outliers (readers take
/// state from there; no timeline shows them until backfill places them in the history), the rest of the auth
/// chain as outliers of the DAG, the join as the room's one tip, with the state before and after it as state
/// groups, and the join's prev events as where backfill starts.
/// </summary>
public sealed partial class RoomWriter
{
    /// <summary>Events one send_join answer may bring (state and auth chain together); a larger room is refused rather than half-taken.</summary>
    public const int MaxRemoteJoinEvents = 50_000;

    public async Task<EventSent> CompleteRemoteJoinAsync(RemoteRoomJoin joining)
    {
        if (!RoomVersions.TryGet(joining.RoomVersion, out var version))
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version {joining.RoomVersion} is not supported.");
        }
        var join = joining.Join.Pdu;
        var userId = Text(join["state_key"]);
        if (Text(join["room_id"]) != RoomId || Text(join["type"]) != "m.room.member" || Text(join["content"]?["membership"]) != "join" ||
            userId is null || Text(join["sender"]) != userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != server.ServerName)
        {
            throw MatrixException.BadJson("A remote join completes with the join event of one of this server's users.");
        }
        if (joining.State.Count + joining.AuthChain.Count > MaxRemoteJoinEvents)
        {
            throw BadAnswer($"the room's state and auth chain hold more than {MaxRemoteJoinEvents} events");
        }
        if (_state is { } known)
        {
            if (known.Version.Id != version.Id) throw BadAnswer($"the room is of version {known.Version.Id} here, not {version.Id}");
            if (known.AuthState.Create is not null)
            {
                // A room this server holds the state of: the join goes in as any received event when its prev events are here.
                var (outcome, _) = await ReceiveAsync(joining.Join);
                if (outcome.Accepted) return new EventSent(joining.Join.EventId, 0, Deduplicated: false);
                if (outcome.Error is null) throw MatrixException.Forbidden($"The join was not allowed ({outcome.Status}: {outcome.Reason}).");
                // The room moved on while no one here was in it: the resident's state is taken, as for a new room.
            }
        }

        var events = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var pdu in joining.State.Concat(joining.AuthChain))
        {
            if (Text(pdu.Pdu["room_id"]) != RoomId) throw BadAnswer($"event {pdu.EventId} is of another room");
            events.TryAdd(pdu.EventId, pdu.Pdu);
        }
        var stateIds = new Dictionary<(string Type, string StateKey), string>();
        foreach (var pdu in joining.State)
        {
            if (Text(pdu.Pdu["type"]) is not { } type || Text(pdu.Pdu["state_key"]) is not { } stateKey) throw BadAnswer($"event {pdu.EventId} of the state is not a state event");
            if (!stateIds.TryAdd((type, stateKey), pdu.EventId) && stateIds[(type, stateKey)] != pdu.EventId) throw BadAnswer($"the state holds two {type} '{stateKey}'");
        }

        var joinId = joining.Join.EventId;
        var existing = _state is null
            ? new Dictionary<string, DagEvent>(StringComparer.Ordinal)
            : (await dag.GetEventsAsync(RoomId, [.. events.Keys, joinId])).ToDictionary(e => e.EventId, StringComparer.Ordinal);
        if (existing.ContainsKey(joinId)) return new EventSent(joinId, 0, Deduplicated: true);

        var (order, unordered) = AuthOrder(events, version);
        var rejected = existing.Values.Where(e => e.Status == DagStatus.Rejected)
            .ToDictionary(e => e.EventId, e => e.RejectedReason ?? "rejected before", StringComparer.Ordinal);
        foreach (var id in unordered) rejected[id] = "its auth events are missing or cite each other in a cycle";
        foreach (var id in order)
        {
            if (!rejected.ContainsKey(id) && AuthChainProblem(events[id], events, rejected, version) is { } problem) rejected[id] = problem;
        }

        if (!stateIds.TryGetValue(("m.room.create", ""), out var createId) || rejected.ContainsKey(createId))
        {
            throw BadAnswer("the state has no valid m.room.create event");
        }
        var create = events[createId];
        if ((Text(create["content"]?["room_version"]) ?? "1") != version.Id) throw BadAnswer($"the room's m.room.create is not of version {version.Id}");

        var stateBefore = stateIds.Where(kv => !rejected.ContainsKey(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value);
        if (AuthChainProblem(join, events, rejected, version) is { } joinProblem)
        {
            throw MatrixException.Forbidden($"The resident server's answer does not allow the join: {joinProblem}.");
        }
        var beforeAuth = new RoomAuthState(AuthEventSelection.KeysFor(join).Distinct().Where(stateBefore.ContainsKey)
            .ToDictionary(k => k, k => events[stateBefore[k]]));
        var byState = AuthRules.Check(join, beforeAuth, version, stateBefore.Count);
        if (!byState.Allowed) throw MatrixException.Forbidden($"The room's state does not allow the join: {byState.Reason}.");

        var stateAfter = new Dictionary<(string Type, string StateKey), string>(stateBefore) { [("m.room.member", userId)] = joinId };
        var groupIds = await dag.AllocateStateGroupIdsAsync(2);
        var groups = new List<NewStateGroup>
        {
            new(groupIds[0], null, 0, stateBefore),
            new(groupIds[1], groupIds[0], 1, new Dictionary<(string, string), string> { [("m.room.member", userId)] = joinId }),
        };

        var inState = stateBefore.Values.ToHashSet(StringComparer.Ordinal);
        var inTimeline = _state is null ? new HashSet<string>() : await dag.GetTimelineIdsAsync(RoomId, inState);
        var firstSeq = (_state?.LastRoomSeq ?? 0) + 1;
        var timeline = new List<NewEvent>();
        var rows = new List<DagEventRow>();
        foreach (var id in order.Concat(unordered))
        {
            var pdu = events[id];
            var held = existing.ContainsKey(id);
            if (inState.Contains(id))
            {
                // The state the room had before this server knew it: no state groups of its own, as Synapse's outliers.
                if (!inTimeline.Contains(id)) timeline.Add(TimelineEvent(id, pdu, firstSeq + timeline.Count, outlier: true));
                if (!held) rows.Add(new DagEventRow(id, DagStatus.Outlier, null, null));
            }
            else if (held) continue;
            else if (rejected.TryGetValue(id, out var reason)) rows.Add(new DagEventRow(id, DagStatus.Rejected, null, null, reason, CanonicalJson.ToCanonicalString(pdu)));
            else rows.Add(new DagEventRow(id, DagStatus.Outlier, null, null, null, CanonicalJson.ToCanonicalString(pdu)));
        }
        timeline.Add(TimelineEvent(joinId, join, firstSeq + timeline.Count, outlier: false));
        rows.Add(new DagEventRow(joinId, DagStatus.Accepted, groupIds[0], groupIds[1]));
        var currentState = stateAfter.Select(kv => new CurrentStateChange(kv.Key.Type, kv.Key.StateKey, kv.Value,
            kv.Key.Type == "m.room.member" ? Text((kv.Value == joinId ? join : events[kv.Value])["content"]?["membership"]) : null)).ToList();

        // The history before the join is the resident's until a client pages back to it: the join's prev events are where backfill starts.
        var joinPrevs = (PduFormat.References(join["prev_events"], version) ?? []).Distinct().ToList();
        var placed = _state is null ? new Dictionary<string, bool>() : await dag.GetTimelineOutliersAsync(RoomId, joinPrevs);
        var backward = joinPrevs.Where(id => !placed.TryGetValue(id, out var outlier) || outlier).ToList();
        var change = new DagChange(groups, rows, [joinId], groupIds[1], currentState, backward);
        if (_state is not null)
        {
            var epoch = _state.Epoch;
            var persisted = await PersistOrStepDownAsync(timeline, change);
            await LoadAsync(epoch, CancellationToken.None);
            return new EventSent(joinId, persisted[^1].StreamOrdering, Deduplicated: false);
        }

        var creator = version.CreatorIsSender ? Text(create["sender"]) : Text(create["content"]?["creator"]) ?? Text(create["sender"]);
        _state = new RoomState(new RoomSnapshot(RoomId, version.Id, Epoch: 1, LastRoomSeq: 0, MaxDepth: 0, ForwardExtremities: [],
            CurrentState: new Dictionary<(string, string), StoredEvent>()));
        try
        {
            var persisted = await PersistAsync(timeline, null, change, new NewRoom(version.Id, creator ?? userId, clock.GetUtcNow().ToUnixTimeMilliseconds()));
            await LoadAsync(1, CancellationToken.None);
            return new EventSent(joinId, persisted[^1].StreamOrdering, Deduplicated: false);
        }
        catch (RoomExistsException)
        {
            _state = null;
            deactivate();
            throw MatrixException.Unavailable($"Room {RoomId} was joined by another request meanwhile. Retry the request.");
        }
        catch
        {
            _state = null;
            deactivate();
            throw;
        }

        NewEvent TimelineEvent(string id, JsonObject pdu, long roomSeq, bool outlier)
        {
            var type = Text(pdu["type"])!;
            return new NewEvent(id, roomSeq, pdu["depth"]!.GetValue<long>(), type, Text(pdu["state_key"]), Text(pdu["sender"])!,
                pdu["origin_server_ts"]!.GetValue<long>(), type == "m.room.member" ? Text(pdu["content"]?["membership"]) : null,
                CanonicalJson.ToCanonicalString(pdu), Outlier: outlier);
        }
    }

    private static MatrixException BadAnswer(string problem) => new(502, "M_UNKNOWN", $"The resident server's send_join answer is unusable: {problem}.");

    /// <summary>
    /// The events with every auth event before the events citing it (ties by depth, then ID), and those that
    /// cannot be placed: an auth event is not among them, or they cite each other in a cycle.
    /// </summary>
    private static (List<string> Order, List<string> Unordered) AuthOrder(IReadOnlyDictionary<string, JsonObject> events, RoomVersion version)
    {
        var waitingOn = new Dictionary<string, int>(StringComparer.Ordinal);
        var citedBy = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var unordered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, pdu) in events)
        {
            var authIds = (PduFormat.References(pdu["auth_events"], version) ?? []).Distinct().ToList();
            if (authIds.Any(a => !events.ContainsKey(a)))
            {
                unordered.Add(id);
                continue;
            }
            waitingOn[id] = authIds.Count;
            foreach (var a in authIds)
            {
                if (!citedBy.TryGetValue(a, out var list)) citedBy[a] = list = [];
                list.Add(id);
            }
        }
        var ready = new PriorityQueue<string, (long Depth, string Id)>();
        foreach (var (id, count) in waitingOn)
        {
            if (count == 0) ready.Enqueue(id, (Depth(events[id]), id));
        }
        var order = new List<string>(events.Count);
        while (ready.TryDequeue(out var id, out _))
        {
            order.Add(id);
            foreach (var next in citedBy.GetValueOrDefault(id) ?? [])
            {
                if (!waitingOn.ContainsKey(next)) continue;
                if (--waitingOn[next] == 0) ready.Enqueue(next, (Depth(events[next]), next));
            }
        }
        var placed = order.ToHashSet(StringComparer.Ordinal);
        // Events citing an unplaceable one stay unplaced too.
        unordered.UnionWith(events.Keys.Where(id => !placed.Contains(id)));
        return (order, [.. unordered.Order(StringComparer.Ordinal)]);

        static long Depth(JsonObject pdu) => pdu["depth"] is JsonValue d && d.TryGetValue<long>(out var depth) ? depth : long.MaxValue;
    }

    /// <summary>Why an event of a send_join answer fails against its auth events (given in the same answer), or null when it passes.</summary>
    private static string? AuthChainProblem(JsonObject pdu, IReadOnlyDictionary<string, JsonObject> events, IReadOnlyDictionary<string, string> rejected,
        RoomVersion version)
    {
        var authIds = PduFormat.References(pdu["auth_events"], version) ?? [];
        if (authIds.Count != authIds.Distinct().Count()) return "it cites an auth event twice";
        var allowed = AuthEventSelection.KeysFor(pdu).ToHashSet();
        var auth = new Dictionary<(string, string), JsonObject>();
        foreach (var id in authIds)
        {
            if (!events.TryGetValue(id, out var authEvent)) return $"its auth event {id} is not in the answer";
            if (rejected.ContainsKey(id)) return $"its auth event {id} was rejected";
            var key = (Text(authEvent["type"]) ?? "", Text(authEvent["state_key"]) ?? "");
            if (authEvent["state_key"] is null || !allowed.Contains(key)) return $"its auth events include {key.Item1} '{key.Item2}', which its auth does not read";
            if (!auth.TryAdd(key, authEvent)) return $"its auth events include two {key.Item1} '{key.Item2}'";
        }
        var result = AuthRules.Check(pdu, new RoomAuthState(auth), version, auth.Count);
        return result.Allowed ? null : result.Reason;
    }
}
