using System.Collections.Concurrent;
using Homeserver.Storage.Push;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The unread counts each recent sync handed out, by the token it handed them out with. Counting a
/// room's unread notifications costs a row per unread event, and a room nobody reads piles them up;
/// so an incremental sync whose token this host answered starts from the counts it gave then and
/// counts only the events since, unless the boundary moved (a receipt or the user's own membership),
/// in which case it counts the room afresh. A host that forgets (restart, another host) counts afresh too.
/// </summary>
public sealed class UnreadCountMemo
{
    private const int TokensPerUser = 4;
    private const int MaxUsers = 50_000;
    private readonly ConcurrentDictionary<string, List<Entry>> _users = new(StringComparer.Ordinal);

    private sealed record Entry(long Events, long Receipts, IReadOnlyDictionary<string, IReadOnlyList<UnreadCounts>> ByRoom);

    /// <summary>The counts by room handed out with the token at these positions, if this host remembers them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<UnreadCounts>>? Find(string userId, long events, long receipts)
    {
        if (!_users.TryGetValue(userId, out var entries)) return null;
        lock (entries) return entries.FirstOrDefault(e => e.Events == events && e.Receipts == receipts)?.ByRoom;
    }

    public void Remember(string userId, long events, long receipts, IReadOnlyDictionary<string, IReadOnlyList<UnreadCounts>> byRoom)
    {
        if (_users.Count >= MaxUsers) _users.Clear();
        var entries = _users.GetOrAdd(userId, _ => []);
        lock (entries)
        {
            entries.RemoveAll(e => e.Events == events && e.Receipts == receipts);
            entries.Add(new Entry(events, receipts, byRoom));
            if (entries.Count > TokensPerUser) entries.RemoveAt(0);
        }
    }
}
