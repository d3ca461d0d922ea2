using System.Collections.Concurrent;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The latest typing set of each room this host follows (see <see cref="SyncNotifier"/>), for
/// /sync. Typing is ephemeral: a host that starts following a room, or restarts, learns its
/// typing users at the room's next typing change.
/// </summary>
public sealed class TypingCache
{
    private readonly ConcurrentDictionary<string, (long Position, IReadOnlyList<string> UserIds)> _rooms = new(StringComparer.Ordinal);
    private long _latest;

    /// <summary>The highest typing position seen.</summary>
    public long Latest => Interlocked.Read(ref _latest);

    /// <summary>
    /// The room's typing users if they changed after <paramref name="since"/> and by <paramref name="upTo"/>, the token the
    /// answer is built up to. A change beyond it waits for the next answer: shown now, the answer's token would not cover it
    /// and the next sync would show the same set again. Its wake makes the waiting poll build that next answer.
    /// </summary>
    public IReadOnlyList<string>? ChangedSince(string roomId, long since, long upTo) =>
        _rooms.TryGetValue(roomId, out var entry) && entry.Position > since && entry.Position <= upTo ? entry.UserIds : null;

    public void Update(string roomId, long position, IReadOnlyList<string> userIds)
    {
        _rooms.AddOrUpdate(roomId, (position, userIds), (_, old) => position > old.Position ? (position, userIds) : old);
        AtomicMax.Raise(ref _latest, position);
    }

    /// <summary>Forgets a room nobody here follows any more: its next change after a new follow says who types.</summary>
    public void Forget(string roomId) => _rooms.TryRemove(roomId, out _);
}
