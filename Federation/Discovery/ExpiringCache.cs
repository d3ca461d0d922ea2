namespace Homeserver.Federation.Discovery;

/// <summary>
/// A bounded map whose entries expire at a time of their own, on a <see cref="TimeProvider"/> so tests
/// control time. Full, it drops the least recently used entry: a flood of lookups for made-up server
/// names can cost a fixed amount of memory, never more.
/// </summary>
public sealed class ExpiringCache<TKey, TValue>(int capacity, TimeProvider clock) where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = [];
    private readonly Lock _lock = new();

    /// <summary>A value, when it was stored and when it stops being fresh.</summary>
    public sealed record Entry(TKey Key, TValue Value, DateTimeOffset Stored, DateTimeOffset Expires)
    {
        public TimeSpan Lifetime => Expires - Stored;
    }

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    /// <summary>The entry for <paramref name="key"/> even when expired (callers decide what a stale entry is still good for).</summary>
    public Entry? GetEntry(TKey key)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node)) return null;
            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value;
        }
    }

    /// <summary>The value for <paramref name="key"/> while it has not expired.</summary>
    public bool TryGetFresh(TKey key, out TValue value)
    {
        if (GetEntry(key) is { } entry && entry.Expires > clock.GetUtcNow())
        {
            value = entry.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public void Set(TKey key, TValue value, TimeSpan lifetime)
    {
        var now = clock.GetUtcNow();
        lock (_lock)
        {
            if (_entries.Remove(key, out var old)) _recency.Remove(old);
            while (_entries.Count >= capacity && _recency.Last is { } last)
            {
                _recency.RemoveLast();
                _entries.Remove(last.Value.Key);
            }
            _entries[key] = _recency.AddFirst(new Entry(key, value, now, now + lifetime));
        }
    }

    public void Remove(TKey key)
    {
        lock (_lock)
        {
            if (_entries.Remove(key, out var node)) _recency.Remove(node);
        }
    }
}
