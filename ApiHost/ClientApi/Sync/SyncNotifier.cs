using System.Diagnostics.Metrics;
using Homeserver.ApiHost.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Grains.Interfaces.Typing;
using Homeserver.Storage.Streams;
using Microsoft.Extensions.Hosting;
using Homeserver.Cluster.Streams;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Wakes long-polling /sync requests when something they would show moves. The host subscribes
/// once to every sync-hint and typing partition (<see cref="SyncHintStreams"/>) and follows
/// locally what its users need: each syncing user's own topic and the topics of the rooms they
/// are joined to, for as long as they keep syncing here (and <see cref="IdleAfter"/> more). A hint
/// wakes only the users who follow its room or are its user. Woken syncs recompute from
/// PostgreSQL positions, so a lost or repeated hint costs latency or a query, never an event.
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
    private readonly Dictionary<string, Topic> _topics = new(StringComparer.Ordinal);
    private Task<List<IAsyncDisposable>>? _subscriptions;
    private ITimer? _sweep;
    private readonly Counter<long> _lookAgains;
    private readonly Counter<long> _hints;
    private readonly Counter<long> _skippedWakes;
    private readonly Counter<long> _builds;

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
        _skippedWakes = meter.CreateCounter<long>("sync_wakes_skipped_total",
            description: "Times a waiting sync was woken by nothing it would show (rows already in its answer, or on streams its filter hides) and waited on without rebuilding.");
        _builds = meter.CreateCounter<long>("sync_builds_total",
            description: "Sync responses built, by outcome: news (answered with changes), empty (answered at the timeout with none), waited (nothing new, so the sync waited on).");
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
        Task<List<IAsyncDisposable>>? subscriptions;
        lock (_gate)
        {
            subscriptions = _subscriptions;
            _subscriptions = null;
            _topics.Clear();
            _listeners.Clear();
        }
        if (subscriptions is null) return;
        try
        {
            foreach (var subscription in await subscriptions) await subscription.DisposeAsync();
        }
        catch (Exception)
        {
            // Never subscribed: nothing to undo.
        }
    }

    /// <summary>Starts following <paramref name="userId"/>'s own topic for one /sync request; dispose when it answers.</summary>
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
            await FollowAsync(listener, [SyncHintStreams.UserTopic(userId)], replaceAsOf: null, cancellationToken);
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
        lock (_gate) return _topics.ContainsKey(SyncHintStreams.RoomTopic(roomId));
    }

    internal Task FollowRoomsAsync(Listener listener, IReadOnlyCollection<string> joinedRoomIds, long readAt, CancellationToken cancellationToken) =>
        FollowAsync(listener, [SyncHintStreams.UserTopic(listener.UserId), .. joinedRoomIds.Select(SyncHintStreams.RoomTopic)], readAt, cancellationToken);

    /// <summary>A number that orders the user's membership reads: take it before reading, pass it to <see cref="FollowRoomsAsync"/>.</summary>
    internal long NextRead(Listener listener)
    {
        lock (_gate)
        {
            // The read that starts now sees whatever a wake without a position was for.
            listener.MustLook = false;
            return ++listener.Reads;
        }
    }

    /// <summary>
    /// Attaches the listener to the topics and, given <paramref name="replaceAsOf"/>, detaches it from the
    /// rest, unless a later read already replaced them: two syncs of one user can finish out of order, and
    /// the older one's room list must not undo the newer one's (the user would miss their new room).
    /// A hint published just before a topic was attached is missed, and its row may not be safe to read
    /// yet; so after a new attachment the listener treats every stream as announced up to its sequence's
    /// current value and looks again until the positions get there.
    /// </summary>
    private async Task FollowAsync(Listener listener, IReadOnlyCollection<string> keys, long? replaceAsOf, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (replaceAsOf is { } readAt && readAt > listener.ReplacedAsOf)
            {
                listener.ReplacedAsOf = readAt;
                var keep = keys.ToHashSet(StringComparer.Ordinal);
                foreach (var key in listener.Topics.Where(key => !keep.Contains(key)).ToList())
                {
                    listener.Topics.Remove(key);
                    if (_topics.TryGetValue(key, out var old)) old.Followers.Remove(listener);
                }
            }
            var attached = false;
            foreach (var key in keys)
            {
                if (!listener.Topics.Add(key)) continue;
                if (!_topics.TryGetValue(key, out var topic)) _topics[key] = topic = new Topic(key);
                topic.Followers.Add(listener);
                attached = true;
            }
            // Owed until done: a request that fails or goes away in between leaves it to the user's next one.
            if (attached) listener.CatchUpOwed = true;
            else if (!listener.CatchUpOwed) return;
        }
        try
        {
            await EnsureSubscribedAsync().WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The cluster is away, say. The sync still answers (at its timeout, at worst); its next request subscribes again.
            _log.SyncSubscribeFailed(e, SyncHintStreams.Namespace);
        }
        cancellationToken.ThrowIfCancellationRequested();
        var sequences = await _positions.GetSequencePositionsAsync(cancellationToken);
        lock (_gate)
        {
            foreach (var (stream, position) in sequences) listener.Announce(stream, position);
            listener.CatchUpOwed = false;
        }
    }

    /// <summary>The host's subscriptions to every hint and typing partition, made once (again after a failure).</summary>
    private Task<List<IAsyncDisposable>> EnsureSubscribedAsync()
    {
        lock (_gate)
        {
            if (_subscriptions is { IsFaulted: false, IsCanceled: false } current) return current;
            return _subscriptions = Task.Run(SubscribeAllAsync);
        }
    }

    private async Task<List<IAsyncDisposable>> SubscribeAllAsync()
    {
        var hints = SyncHintStreams.All.Select(async Task<IAsyncDisposable> (id) => await _streams.Get<SyncHint>(id).SubscribeAsync((hint, _) =>
        {
            foreach (var key in hint.Topics) Wake(key, hint.Stream, hint.Position);
            return Task.CompletedTask;
        }));
        var typing = TypingStreams.All.Select(async Task<IAsyncDisposable> (id) => await _streams.Get<TypingStreamRow>(id).SubscribeAsync((row, position) =>
        {
            OnTyping(row, position);
            return Task.CompletedTask;
        }));
        var all = hints.Concat(typing).ToList();
        try
        {
            return [.. await Task.WhenAll(all)];
        }
        catch
        {
            foreach (var done in all.Where(t => t.IsCompletedSuccessfully)) await done.Result.DisposeAsync();
            throw;
        }
    }

    private void Wake(string key, string stream, long position)
    {
        lock (_gate)
        {
            if (!_topics.TryGetValue(key, out var topic)) return;
            _hints.Add(1, new KeyValuePair<string, object?>("stream", stream));
            foreach (var listener in topic.Followers)
            {
                listener.Announce(stream, position);
                listener.Wake();
            }
        }
    }

    private void OnTyping(TypingStreamRow row, long position)
    {
        // Only the rooms followed here: the cache stays as small as what this host's syncs show.
        lock (_gate)
        {
            if (!_topics.ContainsKey(SyncHintStreams.RoomTopic(row.RoomId))) return;
            _typing.Update(row.RoomId, position, row.UserIds);
        }
        Wake(SyncHintStreams.RoomTopic(row.RoomId), StreamNames.Typing, position);
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
                foreach (var listener in _listeners.Values) listener.Wake(mustLook: true);
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
    public Task UnfollowIdleAsync(TimeSpan idleAfter)
    {
        var idleSince = _clock.GetUtcNow() - idleAfter;
        lock (_gate)
        {
            foreach (var listener in _listeners.Values.Where(l => l.Active == 0 && l.LastSeen < idleSince).ToList())
            {
                _listeners.Remove(listener.UserId);
                foreach (var key in listener.Topics)
                {
                    if (_topics.TryGetValue(key, out var topic)) topic.Followers.Remove(listener);
                }
            }
            foreach (var topic in _topics.Values.Where(t => t.Followers.Count == 0).ToList())
            {
                _topics.Remove(topic.Key);
                if (topic.RoomId is { } roomId) _typing.Forget(roomId);
            }
        }
        return Task.CompletedTask;
    }

    internal void Release(Listener listener)
    {
        lock (_gate)
        {
            listener.Active--;
            listener.LastSeen = _clock.GetUtcNow();
        }
    }

    internal bool IsAheadOf(Listener listener, SyncToken token, IReadOnlySet<string> unseen)
    {
        bool ahead;
        lock (_gate) ahead = listener.IsAheadOf(token, unseen);
        if (ahead) _lookAgains.Add(1);
        return ahead;
    }

    /// <summary>Counts one built response: answered with news, answered empty (timed out), or not answered (the sync waits on).</summary>
    public void Built(bool answered, bool hasNews) =>
        _builds.Add(1, new KeyValuePair<string, object?>("outcome", hasNews ? "news" : answered ? "empty" : "waited"));

    internal bool NothingNewBeyond(Listener listener, SyncToken token, IReadOnlySet<string> unseen)
    {
        bool nothing;
        lock (_gate) nothing = listener.NothingNewBeyond(token, unseen);
        if (nothing) _skippedWakes.Add(1);
        return nothing;
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
        public HashSet<string> Topics { get; } = new(StringComparer.Ordinal);
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

        /// <summary>Set by a wake that carries no position (the positions could not be read): the next read must look.</summary>
        public bool MustLook { get; set; }

        public void Wake(bool mustLook = false)
        {
            if (mustLook) MustLook = true;
            var signal = Signal;
            Signal = NewSignal();
            signal.TrySetResult();
        }

        /// <summary>Whether a row was announced beyond the token: its position is not yet safe to read, so look again soon.</summary>
        public bool IsAheadOf(SyncToken token, IReadOnlySet<string> unseen)
        {
            foreach (var (stream, position) in _announced)
            {
                if (position > PositionOf(token, stream) && stream != StreamNames.Typing && !unseen.Contains(stream)) return true;
            }
            return false;
        }

        /// <summary>
        /// Whether the listener's wakes since the token's read brought nothing it would show: every position
        /// announced is in the token already, or on a stream in <paramref name="unseen"/>.
        /// </summary>
        public bool NothingNewBeyond(SyncToken token, IReadOnlySet<string> unseen)
        {
            if (MustLook) return false;
            foreach (var (stream, position) in _announced)
            {
                if (position > PositionOf(token, stream) && !unseen.Contains(stream)) return false;
            }
            return true;
        }

        private static long PositionOf(SyncToken token, string stream) => stream switch
        {
            StreamNames.Events => token.Events,
            StreamNames.AccountData => token.AccountData,
            StreamNames.Typing => token.Typing,
            StreamNames.Receipts => token.Receipts,
            StreamNames.ToDevice => token.ToDevice,
            StreamNames.DeviceLists => token.DeviceLists,
            StreamNames.Presence => token.Presence,
            StreamNames.PushRules => token.PushRules,
            // A stream the token does not carry (the caches stream, say): nothing a sync shows.
            _ => long.MaxValue,
        };

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>A room or user that some listener here follows.</summary>
    private sealed class Topic(string key)
    {
        public string Key => key;
        public string? RoomId { get; } = key.StartsWith("room:", StringComparison.Ordinal) ? key["room:".Length..] : null;
        public HashSet<Listener> Followers { get; } = [];
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
    public bool IsAheadOf(SyncToken token, IReadOnlySet<string> unseen) => _notifier.IsAheadOf(_listener, token, unseen);

    /// <summary>Whether the wakes since the token was read announced nothing beyond it, except on <paramref name="unseen"/> streams.</summary>
    public bool NothingNewBeyond(SyncToken token, IReadOnlySet<string> unseen) => _notifier.NothingNewBeyond(_listener, token, unseen);

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
