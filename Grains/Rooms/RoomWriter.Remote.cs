using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Protocol.StateResolution;
using Homeserver.Storage.Rooms;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// Events from other servers (server-server-api "Checks performed on receipt of a PDU", 3 to 6), in the
/// room's turn like its own: each must cite prev and auth events the room holds; it is rejected when it
/// fails the auth rules against its auth events or against the state before it (resolved from the state
/// after each prev event), soft-failed when it fails only against the current state, accepted otherwise.
/// An accepted event joins the tips in place of those it cites, and the current state becomes the
/// resolution of the old current state and the state after it, unless it was built on the current state.
/// </summary>
public sealed partial class RoomWriter
{
    /// <summary>Events one call may bring; a transaction holds at most 50.</summary>
    public const int MaxReceivedPerCall = 100;

    private const int MaxCachedGroups = 64;
    private readonly Dictionary<long, IReadOnlyDictionary<(string Type, string StateKey), string>> _groups = new();

    public async Task<IReadOnlyList<ReceivedPduOutcome>> ReceiveEventsAsync(IReadOnlyList<ReceivedPdu> pdus)
    {
        if (_state is null) throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        if (pdus.Count > MaxReceivedPerCall) throw new MatrixException(400, "M_TOO_LARGE", $"At most {MaxReceivedPerCall} events at once.");
        var outcomes = new List<ReceivedPduOutcome>(pdus.Count);
        // Shallowest first, so an event whose prev event came in the same batch finds it.
        foreach (var pdu in pdus.OrderBy(p => p.Pdu["depth"] is JsonValue d && d.TryGetValue<long>(out var depth) ? depth : long.MaxValue))
        {
            outcomes.Add((await ReceiveAsync(pdu)).Outcome);
        }
        return outcomes;
    }

    /// <param name="authorisedVia">For a restricted room, the user of this server who vouches for the join (the caller checked the allow rules).</param>
    public Task<JoinTemplate> MakeJoinAsync(string userId, IReadOnlyList<string> supportedRoomVersions, string? authorisedVia = null)
    {
        var state = _state ?? throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        var version = state.Version;
        if (!supportedRoomVersions.Contains(version.Id, StringComparer.Ordinal))
        {
            throw new MatrixException(400, "M_INCOMPATIBLE_ROOM_VERSION", $"The room is of version {version.Id}, which the joining server does not support.");
        }
        if (version.EventIdsAreServerScoped)
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Joins over federation to rooms of version {version.Id} are not supported here yet.");
        }
        var restricted = state.AuthState.Membership(userId) is not ("invite" or "join") && state.AuthState.JoinRule is "restricted" or "knock_restricted";
        if (restricted && authorisedVia is null)
        {
            throw new MatrixException(400, "M_UNABLE_TO_AUTHORISE_JOIN", "This server cannot tell whether the user may join the restricted room.");
        }
        return Task.FromResult(new JoinTemplate(version.Id, MembershipTemplate(state, userId, "join", restricted ? authorisedVia : null)));
    }

    /// <summary>An unsigned membership event of a remote user on the room's tips, checked against the current state (make_join, make_leave).</summary>
    private JsonObject MembershipTemplate(RoomState state, string userId, string membership, string? authorisedVia = null)
    {
        var version = state.Version;
        var content = new JsonObject { ["membership"] = membership };
        if (authorisedVia is not null) content["join_authorised_via_users_server"] = authorisedVia;
        var template = new JsonObject
        {
            ["room_id"] = RoomId,
            ["sender"] = userId,
            ["type"] = "m.room.member",
            ["state_key"] = userId,
            ["content"] = content,
            ["origin_server_ts"] = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            ["depth"] = state.MaxDepth + 1,
            ["prev_events"] = new JsonArray([.. state.ForwardExtremities.Select(e => JsonValue.Create(e))]),
            ["auth_events"] = new JsonArray([.. state.AuthEventsFor(userId, "m.room.member", userId, content).Select(e => JsonValue.Create(e))]),
        };
        if (!version.RedactionV11) template["origin"] = UserId.Parse(userId).Server.ToString();
        var auth = AuthRules.Check(template, state.AuthState, version, state.StateEventCount);
        if (!auth.Allowed) throw MatrixException.Forbidden($"{userId} may not {membership}: {auth.Reason}.");
        return template;
    }

    public async Task<RemoteJoinAccepted> SendJoinAsync(ReceivedPdu join)
    {
        if (_state is null) throw MatrixException.NotFound($"Room {RoomId} is not known here.");
        var pdu = join.Pdu;
        if (Text(pdu["type"]) != "m.room.member" || Text(pdu["content"]?["membership"]) != "join" || Text(pdu["state_key"]) != Text(pdu["sender"]))
        {
            throw MatrixException.BadJson("send_join takes the join event of its sender.");
        }
        var (outcome, stateBefore) = await ReceiveAsync(join);
        if (outcome.Error is { } error) throw MatrixException.BadJson($"The join cannot be taken: {error}.");
        if (!outcome.Accepted) throw MatrixException.Forbidden($"The join was not allowed ({outcome.Status}: {outcome.Reason}).");
        return new RemoteJoinAccepted(pdu, [.. stateBefore!.Values]);
    }

    private async Task<(ReceivedPduOutcome Outcome, IReadOnlyDictionary<(string Type, string StateKey), string>? StateBefore)> ReceiveAsync(ReceivedPdu received)
    {
        var state = _state!;
        var version = state.Version;
        var pdu = received.Pdu;
        var eventId = received.EventId;
        ReceivedPduOutcome Error(string reason) => new(eventId, null, reason);

        if (Text(pdu["room_id"]) != RoomId) return (Error("the event is of another room"), null);
        if (await dag.GetEventsAsync(RoomId, [eventId]) is [var known])
        {
            var before = known.StateBefore is { } g ? await GroupAsync(g) : null;
            return (new ReceivedPduOutcome(eventId, known.Status, null, known.RejectedReason), before);
        }
        var prevIds = PduFormat.References(pdu["prev_events"], version) ?? [];
        var authIds = PduFormat.References(pdu["auth_events"], version) ?? [];
        if (prevIds.Count == 0) return (Error("the event cites no prev events"), null);
        var prevs = await dag.GetEventsAsync(RoomId, [.. prevIds.Distinct()]);
        if (prevs.Count != prevIds.Distinct().Count() || prevs.Any(p => p.StateAfter is null))
        {
            return (Error(ReceivedPduOutcome.PrevEventsMissing), null);
        }

        // The state before the event: the state after its prev event, or the resolution of theirs.
        var (beforeGroup, beforeChain, stateBefore, beforeWrite, resolutionProblem) = await StateBeforeAsync(prevs);
        if (stateBefore is null) return (Error($"the state before the event cannot be resolved: {resolutionProblem}"), null);

        var authPdus = await dag.GetPdusAsync(RoomId, [.. authIds.Distinct()]);
        if (authPdus.Count != authIds.Distinct().Count()) return (Error("the room does not hold the event's auth events"), null);
        var authRows = await dag.GetEventsAsync(RoomId, [.. authIds.Distinct()]);

        var rejection = AuthEventsProblem(pdu, authIds, authPdus, authRows, version);
        if (rejection is null)
        {
            var byAuthEvents = AuthRules.Check(pdu, new RoomAuthState(ParseAll(authPdus.Values)), version, authPdus.Count);
            if (!byAuthEvents.Allowed) rejection = $"against its auth events: {byAuthEvents.Reason}";
        }
        if (rejection is null)
        {
            var beforeAuth = await AuthStateAsync(pdu, stateBefore);
            var byStateBefore = AuthRules.Check(pdu, beforeAuth, version, stateBefore.Count);
            if (!byStateBefore.Allowed) rejection = $"against the state before it: {byStateBefore.Reason}";
        }

        var type = Text(pdu["type"])!;
        var stateKey = Text(pdu["state_key"]);
        var json = CanonicalJson.ToCanonicalString(pdu);
        var groups = new List<NewStateGroup>();
        if (beforeWrite is not null) groups.Add(beforeWrite);
        if (rejection is not null)
        {
            await PersistRemoteAsync([], groups, new DagEventRow(eventId, DagStatus.Rejected, beforeGroup, beforeGroup, rejection, json),
                state.ForwardExtremities, state.CurrentStateGroup, null);
            return (new ReceivedPduOutcome(eventId, DagStatus.Rejected, null, rejection), stateBefore);
        }

        // The state after it, written as a delta over the state before.
        var (afterGroup, afterChain) = (beforeGroup, beforeChain);
        var stateAfter = stateBefore;
        if (stateKey is not null)
        {
            afterGroup = (await dag.AllocateStateGroupIdsAsync(1))[0];
            stateAfter = new Dictionary<(string, string), string>(stateBefore) { [(type, stateKey)] = eventId };
            afterChain = beforeChain >= RoomDagStore.MaxChainLength ? 0 : beforeChain + 1;
            groups.Add(new NewStateGroup(afterGroup, afterChain == 0 ? null : beforeGroup,
                afterChain, afterChain == 0 ? stateAfter : new Dictionary<(string, string), string> { [(type, stateKey)] = eventId }));
        }

        var current = state.AuthState;
        var byCurrent = AuthRules.Check(pdu, current, version, state.StateEventCount);
        if (!byCurrent.Allowed)
        {
            await PersistRemoteAsync([], groups, new DagEventRow(eventId, DagStatus.SoftFailed, beforeGroup, afterGroup, byCurrent.Reason, json),
                state.ForwardExtremities, state.CurrentStateGroup, null);
            return (new ReceivedPduOutcome(eventId, DagStatus.SoftFailed, null, byCurrent.Reason), stateBefore);
        }

        // The new current state: the state after the event when it was built on the current state, else both resolved.
        IReadOnlyDictionary<(string Type, string StateKey), string> newCurrent;
        long currentGroup;
        int currentChain;
        if (beforeGroup == state.CurrentStateGroup)
        {
            (newCurrent, currentGroup, currentChain) = (stateAfter, afterGroup, afterChain);
        }
        else
        {
            // The event is not stored yet: the resolution reads it from here.
            var resolved = await ResolveAsync([state.StateIds, stateAfter], (eventId, pdu, false));
            if (resolved.State is null) return (Error($"the new current state cannot be resolved: {resolved.Reason}"), null);
            newCurrent = resolved.State;
            (currentGroup, currentChain) = (afterGroup, afterChain);
            if (!SameState(newCurrent, stateAfter))
            {
                currentGroup = (await dag.AllocateStateGroupIdsAsync(1))[0];
                var (prev, entries, chain) = Delta(afterGroup, afterChain, stateAfter, newCurrent);
                groups.Add(new NewStateGroup(currentGroup, prev, chain, entries));
                currentChain = chain;
            }
        }

        var changes = newCurrent.Where(kv => !state.StateIds.TryGetValue(kv.Key, out var was) || was != kv.Value).ToList();
        var changedPdus = await dag.GetPdusAsync(RoomId, [.. changes.Select(c => c.Value).Where(id => id != eventId)]);
        var parsed = new Dictionary<(string, string), (string, JsonObject)>();
        foreach (var (key, id) in newCurrent)
        {
            parsed[key] = id == eventId ? (id, pdu)
                : state.StateIds.TryGetValue(key, out var was) && was == id ? (id, state.CurrentPdu(key.Type, key.StateKey)!)
                : (id, StoredJson.Parse(changedPdus[id])!.AsObject());
        }
        var currentChanges = changes.Select(c => new CurrentStateChange(c.Key.Type, c.Key.StateKey, c.Value,
            c.Key.Type == "m.room.member" ? Text(parsed[c.Key].Item2["content"]?["membership"]) : null)).ToList();

        var depth = pdu["depth"]!.GetValue<long>();
        var redacts = type == "m.room.redaction" ? Text(version.RedactionV11 ? pdu["content"]?["redacts"] : pdu["redacts"]) : null;
        var sender = Text(pdu["sender"])!;
        var content = pdu["content"]!.AsObject();
        var relation = RelationOf(content);
        var draft = new RoomEventDraft(sender, type, stateKey, content, redacts);
        var e = new NewEvent(eventId, state.LastRoomSeq + 1, depth, type, stateKey, sender, pdu["origin_server_ts"]!.GetValue<long>(),
            type == "m.room.member" ? Text(content["membership"]) : null, json,
            redacts is not null && await MayRedactAsync(state, sender, redacts) ? redacts : null, relation,
            await PushActionsAsync(state, pdu, draft, relation?.RelationType == "m.thread" ? relation.EventId : null));
        var tips = state.ForwardExtremities.Except(prevIds, StringComparer.Ordinal).Append(eventId).ToList();
        await PersistRemoteAsync([e], groups, new DagEventRow(eventId, DagStatus.Accepted, beforeGroup, afterGroup), tips, currentGroup, currentChanges);
        state.ApplyResolved(e.RoomSeq, depth, eventId, prevIds, parsed, currentGroup, currentChain);
        return (new ReceivedPduOutcome(eventId, DagStatus.Accepted, null), stateBefore);
    }

    private Task PersistRemoteAsync(IReadOnlyList<NewEvent> events, IReadOnlyList<NewStateGroup> groups, DagEventRow row,
        IReadOnlyList<string> tips, long currentGroup, IReadOnlyList<CurrentStateChange>? changes) =>
        PersistOrStepDownAsync(events, new DagChange(groups, [row], tips, currentGroup, changes ?? []));

    /// <summary>Appends what another server brought; any failure drops the activation, which may be ahead of PostgreSQL.</summary>
    private async Task<IReadOnlyList<PersistedEvent>> PersistOrStepDownAsync(IReadOnlyList<NewEvent> events, DagChange change)
    {
        try
        {
            return await PersistAsync(events, null, change);
        }
        catch (WriterFencedException e)
        {
            deactivate();
            throw MatrixException.Unavailable($"{e.Message} Retry the request.");
        }
        catch
        {
            deactivate();
            throw;
        }
    }

    /// <summary>Spec rule 2 of the auth rules' preamble: auth events of the right kinds, one per key, none rejected, none of another room.</summary>
    private static string? AuthEventsProblem(JsonObject pdu, IReadOnlyList<string> authIds, IReadOnlyDictionary<string, string> authPdus,
        IReadOnlyList<DagEvent> authRows, RoomVersion version)
    {
        if (authIds.Count != authIds.Distinct().Count()) return "it cites an auth event twice";
        if (authRows.FirstOrDefault(r => r.Status == DagStatus.Rejected) is { } rejected) return $"its auth event {rejected.EventId} was rejected";
        var allowed = AuthEventSelection.KeysFor(pdu).ToHashSet();
        var seen = new HashSet<(string, string)>();
        foreach (var json in authPdus.Values)
        {
            var auth = StoredJson.Parse(json)!.AsObject();
            var key = (Text(auth["type"]) ?? "", Text(auth["state_key"]) ?? "");
            if (auth["state_key"] is null || !allowed.Contains(key)) return $"its auth events include {key.Item1} '{key.Item2}', which its auth does not read";
            if (!seen.Add(key)) return $"its auth events include two {key.Item1} '{key.Item2}'";
        }
        return null;
    }

    private async Task<RoomAuthState> AuthStateAsync(JsonObject pdu, IReadOnlyDictionary<(string Type, string StateKey), string> state)
    {
        var ids = AuthEventSelection.KeysFor(pdu).Distinct().Where(state.ContainsKey).ToDictionary(k => k, k => state[k]);
        var pdus = await dag.GetPdusAsync(RoomId, [.. ids.Values]);
        return new RoomAuthState(ids.Where(kv => pdus.ContainsKey(kv.Value)).ToDictionary(kv => kv.Key, kv => StoredJson.Parse(pdus[kv.Value])!.AsObject()));
    }

    private async Task<(long Group, int Chain, IReadOnlyDictionary<(string Type, string StateKey), string>? State, NewStateGroup? Write, string? Problem)>
        StateBeforeAsync(IReadOnlyList<DagEvent> prevs)
    {
        var state = _state!;
        var groupIds = prevs.Select(p => p.StateAfter!.Value).Distinct().ToList();
        if (groupIds.Count == 1)
        {
            var only = groupIds[0];
            return only == state.CurrentStateGroup
                ? (only, state.ChainLength, state.StateIds.ToDictionary(), null, null)
                : (only, await dag.GetChainLengthAsync(only), await GroupAsync(only), null, null);
        }
        var sets = new List<IReadOnlyDictionary<(string Type, string StateKey), string>>();
        foreach (var id in groupIds) sets.Add(await GroupAsync(id));
        var resolved = await ResolveAsync(sets);
        if (resolved.State is null) return (0, 0, null, null, resolved.Reason);
        var group = (await dag.AllocateStateGroupIdsAsync(1))[0];
        var baseChain = groupIds[0] == state.CurrentStateGroup ? state.ChainLength : await dag.GetChainLengthAsync(groupIds[0]);
        var (prev, entries, chain) = Delta(groupIds[0], baseChain, sets[0], resolved.State);
        return (group, chain, resolved.State, new NewStateGroup(group, prev, chain, entries), null);
    }

    /// <summary>A group for <paramref name="target"/> over <paramref name="baseGroup"/> when it only adds or replaces entries and the chain is short, whole otherwise.</summary>
    private static (long? Prev, IReadOnlyDictionary<(string Type, string StateKey), string> Entries, int Chain) Delta(long baseGroup, int baseChain,
        IReadOnlyDictionary<(string Type, string StateKey), string> baseState, IReadOnlyDictionary<(string Type, string StateKey), string> target)
    {
        if (baseChain >= RoomDagStore.MaxChainLength || baseState.Keys.Any(k => !target.ContainsKey(k))) return (null, target, 0);
        return (baseGroup, target.Where(kv => !baseState.TryGetValue(kv.Key, out var was) || was != kv.Value).ToDictionary(), baseChain + 1);
    }

    private async Task<StateResolutionResult> ResolveAsync(IReadOnlyList<IReadOnlyDictionary<(string Type, string StateKey), string>> sets,
        (string EventId, JsonObject Pdu, bool Rejected)? unstored = null)
    {
        var rows = new Dictionary<string, StateEvent?>(StringComparer.Ordinal);
        if (unstored is { } e) rows[e.EventId] = new StateEvent(e.Pdu, e.Rejected);
        return await StateResolver.ResolveAsync(_state!.Version, sets, async (id, cancellationToken) =>
        {
            if (rows.TryGetValue(id, out var known)) return known;
            var json = await dag.GetPdusAsync(RoomId, [id], cancellationToken);
            var row = await dag.GetEventsAsync(RoomId, [id], cancellationToken);
            var found = json.TryGetValue(id, out var text)
                ? new StateEvent(StoredJson.Parse(text)!.AsObject(), row is [{ Status: DagStatus.Rejected }])
                : null;
            rows[id] = found;
            return found;
        });
    }

    private async Task<IReadOnlyDictionary<(string Type, string StateKey), string>> GroupAsync(long group)
    {
        if (_groups.TryGetValue(group, out var cached)) return cached;
        var loaded = await dag.GetStateAsync(group);
        if (_groups.Count >= MaxCachedGroups) _groups.Clear();
        _groups[group] = loaded;
        return loaded;
    }

    private async Task<bool> MayRedactAsync(RoomState state, string sender, string target)
    {
        var originalSender = await store.FindSenderAsync(RoomId, target);
        if (originalSender is null) return false;
        var power = state.AuthState.PowerLevels(state.Version);
        return originalSender == sender || power.UserLevel(sender) >= power.Redact ||
            (state.Version.Number >= 3 && UserId.TryParse(originalSender, out var o) && UserId.TryParse(sender, out var s) && o.Server.Equals(s.Server));
    }

    private static bool SameState(IReadOnlyDictionary<(string, string), string> a, IReadOnlyDictionary<(string, string), string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private static Dictionary<(string, string), JsonObject> ParseAll(IEnumerable<string> pdus)
    {
        var state = new Dictionary<(string, string), JsonObject>();
        foreach (var json in pdus)
        {
            var pdu = StoredJson.Parse(json)!.AsObject();
            state[(Text(pdu["type"]) ?? "", Text(pdu["state_key"]) ?? "")] = pdu;
        }
        return state;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
