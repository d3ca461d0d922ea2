using System.Text.Json.Nodes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Push;
using Homeserver.Cluster.Streams;
using Homeserver.Grains.Streams;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Push;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Streams;
using Orleans.Runtime;
using Homeserver.Configuration.Processes;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// The write path of one room, as its grain activation runs it. <see cref="ActivateAsync"/> claims
/// the room's writer epoch and loads its state; each command builds, signs and persists events in one
/// transaction fenced by that epoch, then publishes them on the events stream. Any failed append asks
/// the activation to go (<paramref name="deactivate"/>), so the next call reloads from PostgreSQL
/// instead of trusting memory that may be ahead of the database.
///
/// Correctness never rests on Orleans keeping one activation per room: two writers of one room (a
/// split brain during a membership change) can both exist, but only the one holding the latest
/// epoch can append; the other's transaction fails and it steps down.
/// </summary>
public sealed partial class RoomWriter(
    string roomId,
    Action deactivate,
    RoomEventStore store,
    RoomDagStore dag,
    LocalStreamWriters writers,
    ServerIdentity server,
    ReplicationStreams streams,
    SyncHintPublisher hints,
    ProcessSettings settings,
    PushRuleCache pushRules,
    AccountStore accounts,
    TimeProvider clock,
    GrainsLog log)
{
    /// <summary>The spec's limit on a whole event's size (PDU, canonical JSON).</summary>
    public const int MaxEventBytes = 65_536;

    private readonly ReplicatedStream<EventStreamRow> _events = streams.Get<EventStreamRow>(StreamId.Create(StreamNames.Events, ""));
    private RoomState? _state;

    private string RoomId => roomId;

    public async Task ActivateAsync(CancellationToken cancellationToken)
    {
        var epoch = await store.ClaimWriterAsync(RoomId, settings.InstanceName, cancellationToken);
        if (epoch is not { } claimed) return;
        await LoadAsync(claimed, cancellationToken);
        if (_state is { CurrentStateGroup: 0, LastRoomSeq: > 0, ForwardExtremities: [var last] })
        {
            // A room from before the DAG was kept: its current state becomes the state after its last event.
            var group = (await dag.AllocateStateGroupIdsAsync(1, cancellationToken))[0];
            await store.BootstrapDagAsync(RoomId, claimed, group, last, cancellationToken);
            await LoadAsync(claimed, cancellationToken);
        }
    }

    public async Task<RoomCreated> CreateAsync(CreateRoomCommand command)
    {
        if (_state is not null) throw MatrixException.RoomInUse($"Room {RoomId} already exists.");
        if (!RoomVersions.TryGet(command.RoomVersion, out var version))
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version {command.RoomVersion} is not supported.");
        }
        // The room's rows are written by the same transaction as its first events: a creation refused by
        // the auth rules (an override that locks the creator out, say) leaves nothing behind.
        var newRoom = new NewRoom(version.Id, command.Creator, clock.GetUtcNow().ToUnixTimeMilliseconds());
        _state = new RoomState(new RoomSnapshot(RoomId, version.Id, Epoch: 1, LastRoomSeq: 0, MaxDepth: 0, ForwardExtremities: [],
            CurrentState: new Dictionary<(string, string), StoredEvent>()));
        try
        {
            var persisted = await AppendAsync(RoomCreationPlan.For(command, version), transaction: null, newRoom);
            return new RoomCreated(RoomId, version.Id, persisted.Select(p => p.Event.EventId).ToList());
        }
        catch (RoomExistsException)
        {
            _state = null;
            deactivate();
            throw MatrixException.RoomInUse($"Room {RoomId} already exists.");
        }
        catch
        {
            _state = null;
            throw;
        }
    }

    public async Task<EventSent> SendEventAsync(SendEventCommand command)
    {
        if (_state is null) throw MatrixException.NotFound($"Room {RoomId} does not exist.");
        TransactionKey? txn = command.Transaction is { } t ? new TransactionKey(command.Sender, t.DeviceId, t.TxnId) : null;
        if (txn is not null && await store.FindTransactionAsync(RoomId, txn) is { } earlier)
        {
            return new EventSent(earlier, 0, Deduplicated: true);
        }
        if (command.StateKey is { } stateKey)
        {
            var current = _state.Current(command.Type, stateKey);
            if (command.TargetMembershipIn is { } allowed &&
                !allowed.Contains(current?.Pdu["content"]?["membership"]?.GetValue<string>() ?? "leave", StringComparer.Ordinal))
            {
                throw MatrixException.Forbidden($"{stateKey} is not in the room in a way this allows (needs {string.Join(" or ", allowed)}).");
            }
            // The same sender setting the same content again changes nothing: the current event stands (as in Synapse).
            if (current is { } same && same.Pdu["sender"]?.GetValue<string>() == command.Sender &&
                same.Pdu["content"] is JsonObject sameContent && Canonical(sameContent) == Canonical(command.Content))
            {
                return new EventSent(same.EventId, 0, Deduplicated: true);
            }
        }
        List<RoomEventDraft> drafts = [new RoomEventDraft(command.Sender, command.Type, command.StateKey, command.Content, command.Redacts)];
        if (command is { Type: "m.room.member", StateKey: { } member } &&
            command.Content["membership"] is JsonValue membership && membership.TryGetValue<string>(out var joining) && joining == "join")
        {
            await GuestMembership.RequireMayJoinAsync(_state, accounts, member);
        }
        if (command is { Type: "m.room.guest_access", StateKey: "" })
        {
            // In the same transaction as the change: no guest stays joined to a room closed to guests.
            drafts.AddRange(await GuestMembership.LeavesForAsync(_state, accounts, command.Content));
        }
        var persisted = await AppendAsync(drafts, txn);
        return new EventSent(persisted[0].Event.EventId, persisted[0].StreamOrdering, Deduplicated: false);
    }

    private static string? Canonical(JsonObject content)
    {
        try
        {
            return CanonicalJson.ToCanonicalString(content);
        }
        catch (CanonicalJsonException)
        {
            // Not signable at all: never equal to stored content; the append refuses it with its own error.
            return null;
        }
    }

    public Task<RoomWriterInfo> GetWriterInfoAsync() => Task.FromResult(_state is { } s
        ? new RoomWriterInfo(RoomId, true, settings.InstanceName, s.Epoch, s.LastRoomSeq)
        : new RoomWriterInfo(RoomId, false, settings.InstanceName, 0, 0));

    private async Task LoadAsync(long epoch, CancellationToken cancellationToken)
    {
        var snapshot = await store.LoadAsync(RoomId, epoch, cancellationToken)
            ?? throw new InvalidOperationException($"Room {RoomId} has a writer row but no room row.");
        _state = new RoomState(snapshot);
    }

    private async Task<IReadOnlyList<PersistedEvent>> AppendAsync(IReadOnlyList<RoomEventDraft> drafts, TransactionKey? transaction,
        NewRoom? newRoom = null)
    {
        var state = _state!;
        var version = state.Version;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var built = new List<NewEvent>(drafts.Count);
        var groups = new List<NewStateGroup>();
        var rows = new List<DagEventRow>();
        var groupIds = new Queue<long>(await dag.AllocateStateGroupIdsAsync(drafts.Count(d => d.StateKey is not null)));
        try
        {
            foreach (var draft in drafts)
            {
                if (ClientEventContent.Problem(draft.Type, draft.Content, version) is { } problem)
                {
                    throw MatrixException.BadJson($"{draft.Type}: {problem}");
                }
                string eventId;
                JsonObject pdu;
                try
                {
                    (eventId, pdu) = RoomEventBuilder.Build(server, version, RoomId, draft.Sender, draft.Type, draft.StateKey,
                        draft.Content, draft.Redacts, now, state.MaxDepth + 1, state.ForwardExtremities,
                        state.AuthEventsFor(draft.Sender, draft.Type, draft.StateKey, draft.Content));

                }
                catch (CanonicalJsonException notCanonical)
                {
                    // Events are hashed and signed as canonical JSON, which has no floats or huge integers.
                    throw MatrixException.BadJson($"The event content cannot be signed: {notCanonical.Message}");
                }
                var auth = AuthRules.Check(pdu, state.AuthState, version, state.StateEventCount);
                if (!auth.Allowed) throw MatrixException.Forbidden($"{draft.Type} from {draft.Sender} is not allowed: {auth.Reason}.");
                var json = CanonicalJson.ToCanonicalString(pdu);
                if (System.Text.Encoding.UTF8.GetByteCount(json) > MaxEventBytes)
                {
                    throw new MatrixException(413, "M_TOO_LARGE", $"The event is larger than {MaxEventBytes} bytes.");
                }
                var membership = draft.Type == "m.room.member" ? draft.Content["membership"]?.GetValue<string>() : null;
                var redacts = draft.Type == "m.room.redaction" && draft.Redacts is { } target
                    ? await CheckRedactionAsync(state, draft.Sender, target)
                    : null;
                var relation = RelationOf(draft.Content);
                var e = new NewEvent(eventId, state.LastRoomSeq + 1, state.MaxDepth + 1, draft.Type, draft.StateKey,
                    draft.Sender, now, membership, json, redacts, relation,
                    await PushActionsAsync(state, pdu, draft, relation?.RelationType == "m.thread" ? relation.EventId : null));
                built.Add(e);
                var before = state.CurrentStateGroup;
                var (after, chain) = (before, state.ChainLength);
                if (draft.StateKey is { } key)
                {
                    after = groupIds.Dequeue();
                    chain = before == 0 || state.ChainLength >= RoomDagStore.MaxChainLength ? 0 : state.ChainLength + 1;
                    var entries = chain == 0
                        ? new Dictionary<(string, string), string>(state.StateIds) { [(draft.Type, key)] = eventId }
                        : new Dictionary<(string, string), string> { [(draft.Type, key)] = eventId };
                    groups.Add(new NewStateGroup(after, chain == 0 ? null : before, chain, entries));
                }
                rows.Add(new DagEventRow(eventId, DagStatus.Accepted, before == 0 ? null : before, after));
                // Later drafts in the batch cite this one; if the append fails, the activation is dropped.
                state.Apply(e, pdu, state.ForwardExtremities, after, chain);
            }
            return await PersistAsync(built, transaction, new DagChange(groups, rows, state.ForwardExtremities, state.CurrentStateGroup), newRoom);
        }
        catch (MatrixException) when (built.Count == 0)
        {
            // Refused before anything changed, in memory or in PostgreSQL: the activation stays valid.
            throw;
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

    /// <summary>Appends in one fenced transaction and announces what was appended; the caller handles failures.</summary>
    private async Task<IReadOnlyList<PersistedEvent>> PersistAsync(IReadOnlyList<NewEvent> built, TransactionKey? transaction, DagChange change,
        NewRoom? newRoom = null, InviteRoomState? inviteState = null)
    {
        var positions = writers.Get(StreamNames.Events);
        var persisted = await store.AppendAsync(RoomId, _state!.Epoch, built, transaction, positions, settings.InstanceName, change, newRoom, inviteState);
        await PersistPositionAsync(positions);
        // Announced without holding up the sender: the rows are committed, subscribers catch up by position from
        // PostgreSQL for whatever a publish loses, and a hint only wakes syncs early. Each publish is a call to a
        // stream queue grain, often on the other silo; awaited, they held the cluster's sends at 419/s against 588/s
        // (BENCHMARKS.md). Publishes are chained, so the room's rows still go out in the room's order, and a sender
        // waits once too many are pending.
        var previous = _publishing;
        _publishing = PublishAfterAsync(previous, persisted);
        if (Interlocked.Increment(ref _pendingPublishes) > MaxPendingPublishes) await _publishing;
        return persisted;
    }

    /// <summary>
    /// A redaction takes effect when its sender sent the original or holds the redact level
    /// (the client-server rule for room versions 3 and later; earlier versions also pass the auth rules).
    /// </summary>
    private async Task<string> CheckRedactionAsync(RoomState state, string sender, string target)
    {
        var originalSender = await store.FindSenderAsync(RoomId, target) ?? throw MatrixException.NotFound($"Event {target} is not in this room.");
        var power = state.AuthState.PowerLevels(state.Version);
        if (originalSender != sender && power.UserLevel(sender) < power.Redact)
        {
            throw MatrixException.Forbidden("You may only redact your own events without the redact power level.");
        }
        return target;
    }

    /// <summary>
    /// Evaluates each member's push rules against the event, with the room as it stood before it
    /// (plus the invitee of an invite), so the counts are written in the event's own transaction.
    /// </summary>
    private async Task<IReadOnlyList<PushActionRow>> PushActionsAsync(RoomState state, JsonObject pdu, RoomEventDraft draft, string? threadId)
    {
        var auth = state.AuthState;
        var members = auth.Members("join").ToList();
        // Only this server's users: another server counts its own users' notifications (as Synapse evaluates local users only).
        var recipients = members.Where(m => m != draft.Sender && FederationDestinations.IsOurs(m, server.ServerName)).ToList();
        if (draft is { Type: "m.room.member", StateKey: { } invitee } && draft.Content["membership"]?.ToString() == "invite" && !recipients.Contains(invitee))
        {
            if (FederationDestinations.IsOurs(invitee, server.ServerName)) recipients.Add(invitee);
        }
        if (recipients.Count == 0) return [];
        var powerLevels = auth.PowerLevels(state.Version);
        var senderLevel = powerLevels.UserLevel(draft.Sender);
        var actions = new List<PushActionRow>();
        foreach (var userId in recipients)
        {
            var displayName = auth.Get("m.room.member", userId)?["content"]?["displayname"] is JsonValue d && d.TryGetValue<string>(out var name) ? name : null;
            var context = new PushContext(userId, displayName, members.Count, senderLevel, powerLevels.Notification);
            if (PushRuleEvaluator.Evaluate(await pushRules.GetAsync(userId), pdu, context) is { } decision && (decision.Notify || decision.Highlight))
            {
                actions.Add(new PushActionRow(userId, threadId, decision.Notify, decision.Highlight, decision.Actions.ToJsonString()));
            }
        }
        return actions;
    }

    /// <summary>Readers in other processes see the new events once this writer's position is persisted; do it now rather than on the next tick.</summary>
    private async Task PersistPositionAsync(MultiWriterIdGenerator positions)
    {
        try
        {
            await positions.PersistAsync();
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            log.PositionPersistFailed(e, RoomId);
        }
    }

    private static EventRelation? RelationOf(JsonObject content) =>
        content["m.relates_to"] is JsonObject relates &&
        relates["rel_type"] is JsonValue type && type.TryGetValue<string>(out var relType) &&
        relates["event_id"] is JsonValue target && target.TryGetValue<string>(out var eventId)
            ? new EventRelation(eventId, relType)
            : null;

    private const int MaxPendingPublishes = 256;
    private Task _publishing = Task.CompletedTask;
    private int _pendingPublishes;

    private async Task PublishAfterAsync(Task previous, IReadOnlyList<PersistedEvent> persisted)
    {
        await previous;
        try
        {
            await PublishAsync(persisted);
        }
        finally
        {
            Interlocked.Decrement(ref _pendingPublishes);
        }
    }

    /// <summary>Hints first (they wake syncs), then the events stream; never throws (failures are logged).</summary>
    private async Task PublishAsync(IReadOnlyList<PersistedEvent> persisted)
    {
        if (persisted.Count == 0) return;
        // One wake-up for the room's syncs per batch; a membership change also reaches its target, who may not follow the room yet.
        await hints.ToRoomAsync(RoomId, StreamNames.Events, persisted.Max(p => p.StreamOrdering),
            persisted.Where(p => p.Event.Type == "m.room.member" && p.Event.StateKey is not null).Select(p => p.Event.StateKey!));
        foreach (var p in persisted)
        {
            var e = p.Event;
            try
            {
                await _events.PublishAsync(new EventStreamRow(RoomId, e.EventId, e.Type, e.StateKey, e.Sender, settings.InstanceName),
                    p.StreamOrdering);
            }
            catch (Exception ex)
            {
                // The event is committed; subscribers recover it from PostgreSQL when they catch up.
                log.EventPublishFailed(ex, e.EventId);
            }
        }
    }
}
