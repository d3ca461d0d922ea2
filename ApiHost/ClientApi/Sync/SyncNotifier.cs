using System.Diagnostics.Metrics;
using Homeserver.ApiHost.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Grains.Interfaces.Typing;
using Homeserver.Storage.Streams;
using Microsoft.Extensions.Hosting;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Wakes long-polling /sync requests when something they would show moves, and follows only what
/// this host's users need: each syncing user's own hint stream, and the hint and typing streams of
/// the rooms they are joined to, for as long as they keep syncing here (and <see cref="IdleAfter"/>
/// more). A hint wakes only the users who follow its room or are its user. Woken syncs recompute
/// from PostgreSQL positions, so a lost or repeated hint costs latency or a query, never an event.
/// </summary>
public sealed class SyncNotifier : IHostedService
{
    /// <summary>How long a user's rooms stay followed after their last sync on this host ended.</summary>
    public static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(5);

    private readonly ReplicationStreams _streams;
    private readonly StreamDeliveryAlerts _alerts;
    private readonly StreamPositionReader _positions;
    private readonly TypingCache _typing;
    private readonly TimeProvider _clock;
    private readonly ApiHostLog _log;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Listener> _listeners = new(StringComparer.Ordinal);
    private readonly Dictionary<StreamId, Topic> _topics = [];
    private ITimer? _sweep;
    private readonly Counter<long> _lookAgains;
    private readonly Counter<long> _hints;

    public SyncNotifier(ReplicationStreams streams, StreamDeliveryAlerts alerts, StreamPositionReader positions, TypingCache typing,
        TimeProvider clock, ApiHostLog log, IMeterFactory meters)
    {
        _streams = streams;
        _alerts = alerts;
        _positions = positions;
        _typing = typing;
        _clock = clock;
        _log = log;
        var meter = meters.Create("Homeserver.ApiHost");
        meter.CreateObservableGauge("sync_followed_topics", () => { lock (_gate) return _topics.Count; },
            description: "Rooms and users whose sync hints this host follows.");
        meter.CreateObservableGauge("sync_listeners", () => { lock (_gate) return _listeners.Count; },
            description: "Users whose syncs this host follows (syncing now or lately).");
        _hints = meter.CreateCounter<long>("sync_hints_received_total",
            description: "Sync hints (and typing rows) this host received for the rooms and users it follows.");
        _lookAgains = meter.CreateCounter<long>("sync_look_agains_total",
            description: "Times a sync found an announced row not yet safe to read and looked again after a pause.");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _alerts.MayHaveLostRows += OnMayHaveLostMessages;
        _sweep = _clock.CreateTimer(_ => _ = SweepAsync(), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _alerts.MayHaveLostRows -= OnMayHaveLostMessages;
        if (_sweep is not null) await _sweep.DisposeAsync();
        List<Topic> topics;
        lock (_gate)
        {
            topics = [.. _topics.Values];
            _topics.Clear();
            _listeners.Clear();
        }
        foreach (var topic in topics) await topic.DisposeAsync();
    }

    /// <summary>Starts following <paramref name="userId"/>'s own streams for one /sync request; dispose when it answers.</summary>
    public async Task<SyncListener> ListenAsync(string userId, CancellationToken cancellationToken)
    {
        Listener listener;
        lock (_gate)
        {
            if (!_listeners.TryGetValue(userId, out listener!)) _listeners[userId] = listener = new Listener(userId);
            listener.Active++;
        }
        var handle = new SyncListener(this, listener);
        try
        {
            await FollowAsync(listener, [SyncHintStreams.User(userId)], replaceAsOf: null, cancellationToken);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return handle;
    }

    /// <summary>Whether this host follows the room (some user here is joined to it and synced lately).</summary>
    public bool Follows(string roomId)
    {
        lock (_gate) return _topics.ContainsKey(SyncHintStreams.Room(roomId));
    }

    internal Task FollowRoomsAsync(Listener listener, IReadOnlyCollection<string> joinedRoomIds, long readAt, CancellationToken cancellationToken) =>
        FollowAsync(listener, [SyncHintStreams.User(listener.UserId), .. joinedRoomIds.Select(SyncHintStreams.Room)], readAt, cancellationToken);

    /// <summary>A number that orders the user's membership reads: take it before reading, pass it to <see cref="FollowRoomsAsync"/>.</summary>
    internal long NextRead(Listener listener)
    {
        lock (_gate) return ++listener.Reads;
    }

    /// <summary>
    /// Attaches the listener to the topics and, given <paramref name="replaceAsOf"/>, detaches it from the
    /// rest, unless a later read already replaced them: two syncs of one user can finish out of order, and
    /// the older one's room list must not undo the newer one's (the user would miss their new room).
    /// A hint published just before a new subscription took effect is missed, and its row may not be
    /// safe to read yet; so after a new attachment the listener treats every stream as announced up to
    /// its sequence's current value and looks again until the positions get there.
    /// </summary>
    private async Task FollowAsync(Listener listener, IReadOnlyCollection<StreamId> ids, long? replaceAsOf, CancellationToken cancellationToken)
    {
        var attached = new List<Topic>();
        lock (_gate)
        {
            if (replaceAsOf is { } readAt && readAt > listener.ReplacedAsOf)
            {
                listener.ReplacedAsOf = readAt;
                var keep = ids.ToHashSet();
                foreach (var id in listener.Topics.Where(id => !keep.Contains(id)).ToList())
                {
                    listener.Topics.Remove(id);
                    if (_topics.TryGetValue(id, out var old)) old.Followers.Remove(listener);
                }
            }
            foreach (var id in ids)
            {
                if (!listener.Topics.Add(id)) continue;
                if (!_topics.TryGetValue(id, out var topic)) _topics[id] = topic = Subscribe(id);
                topic.Followers.Add(listener);
                attached.Add(topic);
            }
            // Owed until done: a request that fails or goes away in between leaves it to the user's next one.
            if (attached.Count > 0) listener.CatchUpOwed = true;
            else if (!listener.CatchUpOwed) return;
        }
        foreach (var topic in attached)
        {
            try
            {
                await topic.Ready;
            }
            catch (Exception e)
            {
                // Redis is away, say. The sync still answers (at its timeout, at worst); its next request subscribes again.
                _log.SyncSubscribeFailed(e, topic.Id.ToString());
                lock (_gate)
                {
                    listener.Topics.Remove(topic.Id);
                    if (_topics.TryGetValue(topic.Id, out var current) && current == topic) _topics.Remove(topic.Id);
                }
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        var sequences = await _positions.GetSequencePositionsAsync(cancellationToken);
        lock (_gate)
        {
            foreach (var (stream, position) in sequences) listener.Announce(stream, position);
            listener.CatchUpOwed = false;
        }
    }

    private Topic Subscribe(StreamId id)
    {
        var key = id.GetKeyAsString();
        var roomId = key.StartsWith("room:", StringComparison.Ordinal) ? key["room:".Length..] : null;
        var topic = new Topic(id, roomId);
        topic.Ready = SubscribeAsync(topic);
        return topic;
    }

    private async Task SubscribeAsync(Topic topic)
    {
        topic.Subscriptions.Add(await _streams.Get<SyncHint>(topic.Id).SubscribeAsync((hint, _) =>
        {
            Wake(topic, hint.Stream, hint.Position);
            return Task.CompletedTask;
        }));
        if (topic.RoomId is { } roomId)
        {
            topic.Subscriptions.Add(await _streams.Get<TypingStreamRow>(StreamId.Create(StreamNames.Typing, roomId)).SubscribeAsync((row, position) =>
            {
                _typing.Update(roomId, position, row.UserIds);
                Wake(topic, StreamNames.Typing, position);
                return Task.CompletedTask;
            }));
        }
    }

    private void Wake(Topic topic, string stream, long position)
    {
        _hints.Add(1);
        lock (_gate)
        {
            foreach (var listener in topic.Followers)
            {
                listener.Announce(stream, position);
                listener.Wake();
            }
        }
    }

    /// <summary>Deliveries may have been lost (gateways lost, a silo died): hints may be lost, so every listener looks again, up to where the sequences are now.</summary>
    private async void OnMayHaveLostMessages()
    {
        try
        {
            var sequences = await _positions.GetSequencePositionsAsync();
            lock (_gate)
            {
                foreach (var listener in _listeners.Values)
                {
                    foreach (var (stream, position) in sequences) listener.Announce(stream, position);
                    listener.Wake();
                }
            }
        }
        catch (Exception e)
        {
            _log.SyncCatchUpFailed(e);
            lock (_gate)
            {
                foreach (var listener in _listeners.Values) listener.Wake();
            }
        }
    }

    private async Task SweepAsync()
    {
        try
        {
            await UnfollowIdleAsync(IdleAfter);
        }
        catch (Exception e)
        {
            _log.SyncSweepFailed(e);
        }
    }

    /// <summary>Stops following users who have not synced here for <paramref name="idleAfter"/>, and the topics nobody follows.</summary>
    public async Task UnfollowIdleAsync(TimeSpan idleAfter)
    {
        var idleSince = _clock.GetUtcNow() - idleAfter;
        var unfollowed = new List<Topic>();
        lock (_gate)
        {
            foreach (var listener in _listeners.Values.Where(l => l.Active == 0 && l.LastSeen < idleSince).ToList())
            {
                _listeners.Remove(listener.UserId);
                foreach (var id in listener.Topics)
                {
                    if (_topics.TryGetValue(id, out var topic)) topic.Followers.Remove(listener);
                }
            }
            foreach (var topic in _topics.Values.Where(t => t.Followers.Count == 0).ToList())
            {
                _topics.Remove(topic.Id);
                unfollowed.Add(topic);
            }
        }
        foreach (var topic in unfollowed)
        {
            if (topic.RoomId is { } roomId) _typing.Forget(roomId);
            await topic.DisposeAsync();
        }
    }

    internal void Release(Listener listener)
    {
        lock (_gate)
        {
            listener.Active--;
            listener.LastSeen = _clock.GetUtcNow();
        }
    }

    internal bool IsAheadOf(Listener listener, SyncToken token)
    {
        bool ahead;
        lock (_gate) ahead = listener.IsAheadOf(token);
        if (ahead) _lookAgains.Add(1);
        return ahead;
    }

    internal Task NextChangeAsync(Listener listener, CancellationToken cancellationToken)
    {
        lock (_gate) return listener.Signal.Task.WaitAsync(cancellationToken);
    }

    /// <summary>One user's following, shared by their concurrent syncs. Guarded by the notifier's lock.</summary>
    internal sealed class Listener(string userId)
    {
        private readonly Dictionary<string, long> _announced = new(StringComparer.Ordinal);

        public string UserId => userId;
        public HashSet<StreamId> Topics { get; } = [];
        public int Active { get; set; }

        /// <summary>Membership reads handed out, and the latest whose room list replaced the followed rooms.</summary>
        public long Reads { get; set; }
        public long ReplacedAsOf { get; set; }

        /// <summary>Topics were attached and the streams not yet treated as announced up to their sequences.</summary>
        public bool CatchUpOwed { get; set; }
        public DateTimeOffset LastSeen { get; set; }
        public TaskCompletionSource Signal { get; private set; } = NewSignal();

        public void Announce(string stream, long position)
        {
            if (position > _announced.GetValueOrDefault(stream)) _announced[stream] = position;
        }

        public void Wake()
        {
            var signal = Signal;
            Signal = NewSignal();
            signal.TrySetResult();
        }

        /// <summary>Whether a row was announced beyond the token: its position is not yet safe to read, so look again soon.</summary>
        public bool IsAheadOf(SyncToken token)
        {
            long At(string stream) => _announced.GetValueOrDefault(stream);
            return At(StreamNames.Events) > token.Events || At(StreamNames.AccountData) > token.AccountData ||
                   At(StreamNames.Receipts) > token.Receipts || At(StreamNames.ToDevice) > token.ToDevice ||
                   At(StreamNames.DeviceLists) > token.DeviceLists || At(StreamNames.Presence) > token.Presence ||
                   At(StreamNames.PushRules) > token.PushRules;
        }

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Topic(StreamId id, string? roomId) : IAsyncDisposable
    {
        public StreamId Id => id;
        public string? RoomId => roomId;
        public HashSet<Listener> Followers { get; } = [];
        public List<IAsyncDisposable> Subscriptions { get; } = [];
        public Task Ready { get; set; } = Task.CompletedTask;

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Ready;
            }
            catch (Exception)
            {
                // Never subscribed: nothing more to undo than what did subscribe.
            }
            foreach (var subscription in Subscriptions) await subscription.DisposeAsync();
        }
    }
}

/// <summary>One /sync request's hold on its user's following: wait for changes, follow the user's rooms, release when answered.</summary>
public sealed class SyncListener : IDisposable
{
    private readonly SyncNotifier _notifier;
    private readonly SyncNotifier.Listener _listener;
    private int _disposed;

    internal SyncListener(SyncNotifier notifier, SyncNotifier.Listener listener)
    {
        _notifier = notifier;
        _listener = listener;
    }

    /// <summary>Completes at the next hint for the user or one of their rooms (or never, until <paramref name="cancellationToken"/>).</summary>
    public Task NextChangeAsync(CancellationToken cancellationToken) => _notifier.NextChangeAsync(_listener, cancellationToken);

    /// <summary>Whether a hint announced a row beyond the token that the positions did not show yet.</summary>
    public bool IsAheadOf(SyncToken token) => _notifier.IsAheadOf(_listener, token);

    /// <summary>Follows exactly these rooms for the user (all the rooms they are joined to, not only what a filter shows).</summary>
    /// <summary>Orders this request's membership read among the user's concurrent syncs; take it before building.</summary>
    public long NextRead() => _notifier.NextRead(_listener);

    /// <param name="readAt">From <see cref="NextRead"/>, taken before the rooms were read.</param>
    public Task FollowRoomsAsync(IReadOnlyCollection<string> joinedRoomIds, long readAt, CancellationToken cancellationToken) =>
        _notifier.FollowRoomsAsync(_listener, joinedRoomIds, readAt, cancellationToken);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _notifier.Release(_listener);
    }
}
