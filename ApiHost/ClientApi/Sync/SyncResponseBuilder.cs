using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Accounts;
using Homeserver.ApiHost.ClientApi.EndToEnd;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.EndToEnd;
using Homeserver.Storage.Presence;
using Homeserver.Storage.Push;
using Homeserver.Storage.Receipts;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Sync;
using Homeserver.Storage.Users;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>One /sync response: everything for the user between two tokens, read from PostgreSQL (typing from its cache).</summary>
public sealed class SyncResponseBuilder(
    SyncReader sync,
    RoomReader rooms,
    AccountDataStore accountData,
    TypingCache typing,
    ReceiptStore receipts,
    ToDeviceStore toDevice,
    EndToEndKeyStore keys,
    PresenceStore presence,
    PushRuleStore pushRules,
    NotificationStore notifications,
    ToDeviceAcknowledgements toDeviceAcks,
    UnreadCountMemo unreadMemo,
    HistoryVisibility history,
    DeviceListChanges deviceLists,
    IgnoredUsers ignoredUsers,
    LazyLoadedMembers lazyLoaded,
    OwnTransactionIds transactionIds,
    TimeProvider clock)
{
    /// <summary>To-device messages per response; the rest follow in the next one.</summary>
    public const int ToDeviceLimit = 100;

    /// <param name="JoinedRoomIds">Every room the user is joined to, whatever the filter shows: what their syncs follow.</param>
    public sealed record Result(JsonObject Body, bool HasChanges, IReadOnlyList<string> JoinedRoomIds);

    public async Task<Result> BuildAsync(AuthenticatedUser user, SyncToken? since, SyncToken upTo, SyncFilter filter, bool fullState)
    {
        var userId = user.UserId;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var from = since ?? SyncToken.Zero;
        // Never answer with a token behind the one the client holds: a lagging reader keeps the old part.
        upTo = upTo.Max(from);
        var limit = filter.TimelineLimit;

        var allMemberships = await sync.GetRoomsAsync(userId);
        var ignored = await ignoredUsers.OfAsync(userId);
        var memberships = allMemberships.Where(m => filter.AllowsRoom(m.RoomId)).ToList();
        // Each stream is read only when it moved: most incremental syncs follow one new row of one stream.
        var left = (since is not null || filter.IncludeLeave) && upTo.Events > from.Events
            ? (await sync.GetLeftRoomsAsync(userId, from.Events, upTo.Events)).Where(l => filter.AllowsRoom(l.RoomId)).ToList()
            : [];
        var joined = memberships.Where(m => m.Membership == "join").Select(m => m.RoomId).ToList();
        var roomIds = memberships.Select(m => m.RoomId).Concat(left.Select(l => l.RoomId)).ToList();
        var events = upTo.Events > from.Events ? await sync.GetEventsAsync(roomIds, from.Events, upTo.Events, limit) : [];
        var byRoom = events.GroupBy(e => e.RoomId).ToDictionary(g => g.Key, g => g.ToList());
        // A timeline filter on types or senders applies before the limit (spec): its own read, while the
        // unfiltered one above keeps the bookkeeping (memberships, device lists) whole.
        var selection = filter.Timeline?.Selection();
        var selectedByRoom = selection is not null && upTo.Events > from.Events
            ? (await sync.GetEventsAsync(joined, from.Events, upTo.Events, limit, selection)).GroupBy(e => e.RoomId).ToDictionary(g => g.Key, g => g.ToList())
            : null;

        var accountDataChanges = upTo.AccountData > from.AccountData ? await accountData.GetChangedAsync(userId, from.AccountData, upTo.AccountData) : [];
        JsonArray AccountDataFor(string? roomId, RoomEventFilter? eventFilter) => new(UserEvents.AccountData(accountDataChanges, roomId)
            .Where(e => roomId is null ? SyncFilter.Allows(eventFilter, e) : SyncFilter.Allows(eventFilter, roomId, e)).Cast<JsonNode>().ToArray());

        var receiptRows = await receipts.GetChangedAsync(joined, userId, from.Receipts, upTo.Receipts);
        var receiptsByRoom = receiptRows.GroupBy(r => r.RoomId).ToDictionary(g => g.Key, g => g.ToList());

        // First which joined rooms go out and which need their state, then all that state in one query.
        var joinedNowRooms = new List<string>();
        var hiddenState = new Dictionary<string, List<RoomEventRow>>(StringComparer.Ordinal);
        var included = new List<(string RoomId, List<RoomEventRow> Timeline, bool Limited, bool NeedsState, bool JoinedNow, JsonArray Ephemeral, JsonArray AccountData)>();
        foreach (var (roomId, _, joinedAt) in memberships.Where(m => m.Membership == "join"))
        {
            var roomEvents = byRoom.GetValueOrDefault(roomId) ?? [];
            var ephemeral = Ephemeral(roomId, since, upTo, receiptsByRoom.GetValueOrDefault(roomId), filter.Ephemeral, ignored);
            var roomAccountData = AccountDataFor(roomId, filter.RoomAccountData);
            if (since is not null && roomEvents.Count == 0 && roomAccountData.Count == 0 && ephemeral.Count == 0 && !fullState) continue;
            // A room the user joined since the token is new to them: its whole state and a full timeline
            // window, as on an initial sync, not only what happened since the token.
            var joinedNow = since is not null && joinedAt > from.Events && joinedAt <= upTo.Events;
            var candidates = selectedByRoom is null ? roomEvents : selectedByRoom.GetValueOrDefault(roomId) ?? [];
            if (joinedNow)
            {
                joinedNowRooms.Add(roomId);
                var window = await rooms.GetTimelineAsync(roomId, await rooms.GetBoundaryAtAsync(roomId, upTo.Events), backwards: true, limit + 1, selection);
                candidates = [.. window.Reverse()];
            }
            // Events from before the join are the user's only as the room's history visibility allows.
            if (candidates.Count > 0 && candidates[0].StreamOrdering < joinedAt)
            {
                candidates = candidates.SeenThrough(await history.ForUserAsync(roomId, userId)).ToList();
            }
            if (ignored.Count > 0) candidates = candidates.Where(e => IgnoredUsers.Shows(ignored, e)).ToList();
            var limited = candidates.Count > limit;
            var timeline = limited ? candidates.Skip(candidates.Count - limit).ToList() : candidates;
            // State changes the timeline filter keeps out of the timeline still reach the client, in state.
            hiddenState[roomId] = selectedByRoom is null || joinedNow || limited ? [] : roomEvents.Where(IsState).ToList();
            included.Add((roomId, timeline, limited, since is null || fullState || joinedNow || limited, joinedNow, ephemeral, roomAccountData));
        }

        var members = new LazyMemberSelection(filter.State, userId, user.DeviceId, since is null ? null : from.Events, lazyLoaded);
        // With lazy loading, per room the members its timeline needs; the user too on a full sync.
        var neededMembers = included.ToDictionary(r => r.RoomId, r => members.Needed(r.Timeline, since is null || fullState || r.JoinedNow), StringComparer.Ordinal);
        var withState = included.Where(r => r.NeedsState).ToList();
        var states = new Dictionary<string, IReadOnlyList<RoomEventRow>>(await rooms.GetCurrentStateAsync(withState.Select(r => r.RoomId).ToList(),
            members.Lazy ? withState.SelectMany(r => neededMembers[r.RoomId]).ToHashSet(StringComparer.Ordinal) : null,
            membersChangedAfter: members.Lazy && since is not null ? from.Events : null), StringComparer.Ordinal);
        // Lazy loading in a room whose state has not moved: the timeline's senders the device does not have yet.
        var unknownSenders = members.Lazy
            ? included.Where(r => !r.NeedsState).ToDictionary(r => r.RoomId, r => neededMembers[r.RoomId].Where(m => !members.DeviceHas(r.RoomId, m)).ToList())
            : [];
        if (unknownSenders.Values.Any(m => m.Count > 0))
        {
            var senderState = await rooms.GetCurrentStateAsync([.. unknownSenders.Where(kv => kv.Value.Count > 0).Select(kv => kv.Key)],
                unknownSenders.Values.SelectMany(m => m).ToHashSet(StringComparer.Ordinal), membersOnly: true);
            foreach (var (roomId, rows) in senderState)
            {
                states[roomId] = rows.Where(row => unknownSenders[roomId].Contains(LazyMemberSelection.MemberOf(row) ?? "")).ToList();
            }
        }
        var unread = await UnreadAsync(userId, since is null ? null : from, upTo,
            included.Select(r => (r.RoomId, r.Timeline, r.Limited)).ToList(), receiptRows);
        var lastSeqs = await rooms.GetLastRoomSeqsAsync(included.Where(r => r.Timeline.Count == 0).Select(r => r.RoomId).ToList());

        var join = new JsonObject();
        foreach (var (roomId, timeline, limited, needsState, joinedNow, ephemeral, roomAccountData) in included)
        {
            // In a gappy incremental sync the members who changed in the gap come too, with the senders.
            var state = members.Select(roomId, states.GetValueOrDefault(roomId) ?? [], neededMembers[roomId],
                changedInGap: since is not null && limited && !joinedNow && !fullState);
            if (!needsState) state = [.. state, .. hiddenState[roomId]];
            var body = RoomBody(since, timeline, limited, state, lastSeqs.GetValueOrDefault(roomId), filter, now);
            body["ephemeral"] = new JsonObject { ["events"] = ephemeral };
            body["account_data"] = new JsonObject { ["events"] = roomAccountData };
            AddUnreadCounts(body, unread.GetValueOrDefault(roomId) ?? [], filter.Timeline?.UnreadThreadNotifications == true);
            members.Sent(roomId, body);
            join[roomId] = body;
        }
        members.Remember(upTo.Events);
        await AddSummariesAsync(join, userId, since, byRoom);

        var invite = new JsonObject();
        // An invite or knock goes out once, in the sync that covers its membership event.
        bool Changed(long membershipAt) => since is null || (membershipAt > from.Events && membershipAt <= upTo.Events);
        foreach (var (roomId, _, invitedAt) in memberships.Where(m => m.Membership == "invite"))
        {
            if (!Changed(invitedAt)) continue;
            var inviteState = await StrippedStateAsync(roomId, userId);
            // Invites from ignored users are not sent (spec).
            if (inviteState.Any(e => e!["type"]?.ToString() == "m.room.member" && e["state_key"]?.ToString() == userId &&
                                     ignored.Contains(e["sender"]?.ToString() ?? ""))) continue;
            invite[roomId] = new JsonObject { ["invite_state"] = new JsonObject { ["events"] = inviteState } };
        }
        var knock = new JsonObject();
        foreach (var (roomId, _, knockedAt) in memberships.Where(m => m.Membership == "knock"))
        {
            if (!Changed(knockedAt)) continue;
            knock[roomId] = new JsonObject { ["knock_state"] = new JsonObject { ["events"] = await StrippedStateAsync(roomId, userId) } };
        }

        var leave = new JsonObject();
        foreach (var (roomId, leftAt) in left)
        {
            // The timeline ends at the leave: what happened after it is not the user's to see.
            var leaveBoundary = await rooms.GetBoundaryAtAsync(roomId, leftAt);
            var window = await rooms.GetTimelineAsync(roomId, leaveBoundary, backwards: true, limit + 1, selection);
            var roomEvents = window.Reverse().Where(e => e.StreamOrdering > from.Events).ToList();
            if (roomEvents.Count > 0) roomEvents = roomEvents.SeenThrough(await history.ForUserAsync(roomId, userId)).Where(e => IgnoredUsers.Shows(ignored, e)).ToList();
            var limited = roomEvents.Count > limit;
            var timeline = limited ? roomEvents.Skip(roomEvents.Count - limit).ToList() : roomEvents;
            // A room joined and left since the token is new to the client, as is an archived room on an
            // initial sync: the state as the leave left it comes along, as for a newly joined room.
            var joinedAtSince = since is not null &&
                (await rooms.GetStateBeforeAsync(roomId, await rooms.GetBoundaryAtAsync(roomId, from.Events), "m.room.member", userId))
                .Any(row => OwnMembership(row, userId) == "join");
            IReadOnlyList<RoomEventRow>? state = null;
            if (!joinedAtSince || limited || fullState)
            {
                state = members.Select(roomId, await rooms.GetStateBeforeAsync(roomId, leaveBoundary), members.Needed(timeline, includeUser: true),
                    changedInGap: false);
            }
            var body = RoomBody(since, timeline, limited, state ?? [], timeline.Count == 0 ? await rooms.GetLastRoomSeqAsync(roomId) : 0, filter, now);
            body["account_data"] = new JsonObject { ["events"] = AccountDataFor(roomId, filter.RoomAccountData) };
            leave[roomId] = body;
        }

        await AddTransactionIdsAsync(user, join, leave);

        var globalAccountData = AccountDataFor(null, filter.AccountData);
        if (since is null || await pushRules.ChangedAsync(userId, from.PushRules, upTo.PushRules))
        {
            var rules = new JsonObject
            {
                ["type"] = "m.push_rules",
                ["content"] = PushRuleSet.FromChanges(await pushRules.GetChangesAsync(userId)).Compose(userId),
            };
            if (SyncFilter.Allows(filter.AccountData, rules)) globalAccountData.Add(rules);
        }

        if (since is not null && toDeviceAcks.ShouldAcknowledge(userId, user.DeviceId, from.ToDevice))
        {
            await toDevice.AcknowledgeAsync(userId, user.DeviceId, from.ToDevice);
        }
        var messages = upTo.ToDevice > from.ToDevice ? await toDevice.GetAsync(userId, user.DeviceId, from.ToDevice, upTo.ToDevice, ToDeviceLimit) : [];
        // When more wait than one response carries, the token stops after the last one delivered.
        var toDeviceUpTo = messages.Count == ToDeviceLimit ? messages[^1].Position : upTo.ToDevice;

        var membershipMoved = events.Any(e => e.Json.Contains("\"m.room.member\"", StringComparison.Ordinal));
        var peers = since is null || upTo.DeviceLists > from.DeviceLists || upTo.Presence > from.Presence || membershipMoved
            ? await sync.GetRoomPeersAsync(userId)
            : [];
        var (changed, leftUsers) = since is null ? ([], []) : await deviceLists.ComputeAsync(userId, from.DeviceLists, upTo.DeviceLists, peers,
            byRoom.Values.SelectMany(e => e), joined, joinedNowRooms);
        var presenceRows = (await presence.GetChangedAsync(peers, from.Presence, upTo.Presence)).ToList();
        if (since is not null && membershipMoved)
        {
            // As Synapse: someone newly sharing a room with the user (the members of a room just joined, or a
            // member who just joined one of theirs) comes with their current presence, however old it is.
            var newlyShared = (joinedNowRooms.Count > 0 ? await sync.GetJoinedMembersAsync(joinedNowRooms) : [])
                .Concat(events.Select(JoinedMember).OfType<string>())
                .Where(u => peers.Contains(u)).Except(presenceRows.Select(p => p.UserId)).ToHashSet(StringComparer.Ordinal);
            presenceRows.AddRange(await presence.GetChangedAsync(newlyShared, -1, upTo.Presence));
        }
        var presenceEvents = new JsonArray(presenceRows
            .Select(p => UserEvents.Presence(p, now))
            .Where(e => SyncFilter.Allows(filter.Presence, e)).Take(filter.Presence?.Limit ?? int.MaxValue).Cast<JsonNode>().ToArray());

        var keyState = await keys.GetSyncKeyStateAsync(userId, user.DeviceId);
        var next = upTo with { ToDevice = toDeviceUpTo };
        var response = new JsonObject
        {
            ["next_batch"] = next.ToString(),
            ["rooms"] = new JsonObject { ["join"] = join, ["invite"] = invite, ["leave"] = leave, ["knock"] = knock },
            ["account_data"] = new JsonObject { ["events"] = globalAccountData },
            ["presence"] = new JsonObject { ["events"] = presenceEvents },
            ["to_device"] = new JsonObject { ["events"] = new JsonArray(messages.Select(m => StoredJson.Parse(m.Json)).ToArray()) },
            ["device_lists"] = new JsonObject
            {
                ["changed"] = new JsonArray(changed.Order(StringComparer.Ordinal).Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()),
                ["left"] = new JsonArray(leftUsers.Order(StringComparer.Ordinal).Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()),
            },
            ["device_one_time_keys_count"] = KeyEndpoints.Counts(keyState.OneTimeKeyCounts),
            ["device_unused_fallback_key_types"] = new JsonArray(keyState.UnusedFallbackKeyTypes.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        };
        var hasChanges = join.Count > 0 || invite.Count > 0 || leave.Count > 0 || knock.Count > 0 || globalAccountData.Count > 0 ||
            presenceEvents.Count > 0 || messages.Count > 0 || changed.Count > 0 || leftUsers.Count > 0;
        return new Result(response, hasChanges, [.. allMemberships.Where(m => m.Membership == "join").Select(m => m.RoomId)]);
    }

    /// <summary>
    /// Unread counts of the included rooms, added to what this host handed out with the client's token
    /// where it remembers that and the room's boundary (the user's receipt or membership) has not moved.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, IReadOnlyList<UnreadCounts>>> UnreadAsync(string userId, SyncToken? since, SyncToken upTo,
        IReadOnlyList<(string RoomId, List<RoomEventRow> Timeline, bool Limited)> included, IReadOnlyList<ReceiptRow> receiptRows)
    {
        var boundaryMoved = receiptRows.Where(r => r.UserId == userId).Select(r => r.RoomId).ToHashSet(StringComparer.Ordinal);
        var known = since is null ? null : unreadMemo.Find(userId, since.Events, since.Receipts);
        var canAdd = included.Where(r => known?.ContainsKey(r.RoomId) == true && !r.Limited && !boundaryMoved.Contains(r.RoomId) &&
                                         !r.Timeline.Any(e => OwnMembership(e, userId) is not null))
            .Select(r => r.RoomId).ToHashSet(StringComparer.Ordinal);
        var afresh = await notifications.GetUnreadAsync(userId, included.Select(r => r.RoomId).Where(id => !canAdd.Contains(id)).ToList(), 0, upTo.Events);
        var added = canAdd.Count == 0 ? [] : await notifications.GetUnreadAsync(userId, [.. canAdd], since!.Events, upTo.Events);

        var counts = new Dictionary<string, IReadOnlyList<UnreadCounts>>(StringComparer.Ordinal);
        if (known is not null)
        {
            foreach (var (roomId, roomCounts) in known.Where(kv => !boundaryMoved.Contains(kv.Key))) counts[roomId] = roomCounts;
        }
        foreach (var (roomId, _, _) in included) counts[roomId] = canAdd.Contains(roomId) ? counts[roomId] : [];
        foreach (var group in afresh.Concat(added).GroupBy(u => u.RoomId))
        {
            counts[group.Key] = counts[group.Key].Concat(group).GroupBy(u => u.ThreadId)
                .Select(t => new UnreadCounts(group.Key, t.Key, t.Sum(u => u.Notifications), t.Sum(u => u.Highlights))).ToList();
        }
        unreadMemo.Remember(userId, upTo.Events, upTo.Receipts, counts);
        return counts;
    }

    /// <summary>
    /// <c>unsigned.transaction_id</c> on the user's own timeline events that this device sent, as the spec asks
    /// (clients match their local echo by it). The stored key names the endpoint too (<c>send/{type}/{txnId}</c>);
    /// the client's ID is its last segment (a path segment holds no '/').
    /// </summary>
    private Task AddTransactionIdsAsync(AuthenticatedUser user, params JsonObject[] sections) =>
        transactionIds.AddAsync(user, sections.SelectMany(section => section.Select(room => room.Value?["timeline"]?["events"] as JsonArray ?? []))
            .SelectMany(events => events).OfType<JsonObject>());

    private static bool IsState(RoomEventRow row) => StoredJson.Parse(row.Json)?["state_key"] is not null;

    /// <summary>A room's timeline and the state not already in the timeline (members already chosen for lazy loading).</summary>
    private static JsonObject RoomBody(SyncToken? since, List<RoomEventRow> timeline, bool limited, IReadOnlyList<RoomEventRow> roomState,
        long lastRoomSeq, SyncFilter filter, long now)
    {
        var events = timeline.Select(e => (e.RoomId, e.EventId, Event: ClientEvents.Format(e, now)))
            .Where(e => SyncFilter.Allows(filter.Timeline, e.RoomId, e.Event)).ToList();
        var state = new JsonArray();
        // Only what the timeline shows is left out of state: a state event its filter hides belongs in state.
        var inTimeline = events.Select(e => e.EventId).ToHashSet(StringComparer.Ordinal);
        foreach (var row in roomState)
        {
            if (inTimeline.Contains(row.EventId)) continue;
            var formatted = ClientEvents.Format(row, now);
            if (SyncFilter.Allows(filter.State, row.RoomId, formatted)) state.Add(formatted);
        }
        return new JsonObject
        {
            ["timeline"] = new JsonObject
            {
                ["events"] = new JsonArray(events.Select(e => (JsonNode)e.Event).ToArray()),
                ["limited"] = limited || (since is null && timeline.Count > 0 && timeline[0].RoomSeq > 1),
                ["prev_batch"] = RoomTokens.Format(timeline.Count > 0 ? timeline[0].RoomSeq : lastRoomSeq + 1),
            },
            ["state"] = new JsonObject { ["events"] = state },
        };
    }

    private JsonArray Ephemeral(string roomId, SyncToken? since, SyncToken upTo, List<ReceiptRow>? roomReceipts, RoomEventFilter? ephemeralFilter,
        IReadOnlySet<string> ignored)
    {
        var ephemeral = new JsonArray();
        var typingUsers = typing.ChangedSince(roomId, since?.Typing ?? 0, upTo.Typing)?.Where(u => !ignored.Contains(u)).ToList();
        if (typingUsers is not null && (since is not null || typingUsers.Count > 0))
        {
            ephemeral.Add(new JsonObject
            {
                ["type"] = "m.typing",
                ["content"] = new JsonObject { ["user_ids"] = new JsonArray(typingUsers.Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()) },
            });
        }
        if (roomReceipts is { Count: > 0 })
        {
            var content = new JsonObject();
            foreach (var r in roomReceipts.Where(r => !ignored.Contains(r.UserId)))
            {
                var byEvent = content[r.EventId] as JsonObject ?? (JsonObject)(content[r.EventId] = new JsonObject());
                var byType = byEvent[r.ReceiptType] as JsonObject ?? (JsonObject)(byEvent[r.ReceiptType] = new JsonObject());
                var receipt = new JsonObject { ["ts"] = r.Ts };
                if (r.ThreadId is not null) receipt["thread_id"] = r.ThreadId;
                byType[r.UserId] = receipt;
            }
            ephemeral.Add(new JsonObject { ["type"] = "m.receipt", ["content"] = content });
        }
        return new JsonArray(ephemeral.Where(e => SyncFilter.Allows(ephemeralFilter, roomId, e!.AsObject())).Select(e => e!.DeepClone()).ToArray());
    }

    private static void AddUnreadCounts(JsonObject room, IReadOnlyList<UnreadCounts> counts, bool perThread)
    {
        var main = perThread ? counts.Where(c => c.ThreadId is null).ToList() : counts;
        room["unread_notifications"] = new JsonObject
        {
            ["notification_count"] = main.Sum(c => c.Notifications),
            ["highlight_count"] = main.Sum(c => c.Highlights),
        };
        if (!perThread) return;
        var threads = new JsonObject();
        foreach (var c in counts.Where(c => c.ThreadId is not null))
        {
            threads[c.ThreadId!] = new JsonObject { ["notification_count"] = c.Notifications, ["highlight_count"] = c.Highlights };
        }
        room["unread_thread_notifications"] = threads;
    }

    /// <summary>The summary goes out on an initial sync and whenever membership changed in the timeline.</summary>
    private async Task AddSummariesAsync(JsonObject join, string userId, SyncToken? since, Dictionary<string, List<RoomEventRow>> byRoom)
    {
        var wanted = join.Select(kv => kv.Key).Where(roomId => since is null ||
            (byRoom.GetValueOrDefault(roomId) ?? []).Any(e => StoredJson.Parse(e.Json)?["type"]?.ToString() == "m.room.member")).ToList();
        foreach (var (roomId, (joinedCount, invitedCount, heroes)) in await sync.GetSummariesAsync(wanted, userId))
        {
            join[roomId]!["summary"] = new JsonObject
            {
                ["m.heroes"] = new JsonArray(heroes.Select(h => (JsonNode)JsonValue.Create(h)!).ToArray()),
                ["m.joined_member_count"] = joinedCount,
                ["m.invited_member_count"] = invitedCount,
            };
        }
    }

    /// <summary>
    /// Users whose devices the client should refetch (their keys changed, or they now share a room
    /// with the user) and users it may forget (they share no room any more).
    /// </summary>

    private Task<JsonArray> StrippedStateAsync(string roomId, string userId) => StrippedState.OfAsync(rooms, roomId, userId);

    /// <summary>The membership this row gives <paramref name="userId"/>, or null when it is not their member event.</summary>
    /// <summary>The user a join event is of, or null for any other event.</summary>
    private static string? JoinedMember(RoomEventRow row)
    {
        if (!row.Json.Contains("\"m.room.member\"", StringComparison.Ordinal)) return null;
        var pdu = StoredJson.Parse(row.Json);
        static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
        return Text(pdu?["type"]) == "m.room.member" && Text(pdu?["content"]?["membership"]) == "join" ? Text(pdu?["state_key"]) : null;
    }

    private static string? OwnMembership(RoomEventRow row, string userId)
    {
        var pdu = StoredJson.Parse(row.Json);
        return pdu?["type"]?.GetValue<string>() == "m.room.member" && pdu["state_key"]?.GetValue<string>() == userId
            ? pdu["content"]?["membership"]?.GetValue<string>()
            : null;
    }
}
