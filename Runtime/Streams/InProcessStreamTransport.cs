using System.Collections.Immutable;

namespace Orleans.Streams;

/// <summary>The monolith's transport: a publish calls every subscriber's enqueue directly.</summary>
public sealed class InProcessStreamTransport : IStreamTransport
{
    private ImmutableDictionary<string, ImmutableList<Action<string>>> _subscribers =
        ImmutableDictionary<string, ImmutableList<Action<string>>>.Empty.WithComparers(StringComparer.Ordinal);

    public event Action? MayHaveLostMessages { add { } remove { } }

    public Task PublishAsync(string channel, string payload)
    {
        if (_subscribers.TryGetValue(channel, out var handlers))
        {
            foreach (var handler in handlers) handler(payload);
        }
        return Task.CompletedTask;
    }

    public Task<IAsyncDisposable> SubscribeAsync(string channel, Action<string> onMessage)
    {
        ImmutableInterlocked.Update(ref _subscribers, s =>
            s.SetItem(channel, s.GetValueOrDefault(channel, ImmutableList<Action<string>>.Empty).Add(onMessage)));
        return Task.FromResult<IAsyncDisposable>(new Subscription(this, channel, onMessage));
    }

    private sealed class Subscription(InProcessStreamTransport owner, string channel, Action<string> handler) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            ImmutableInterlocked.Update(ref owner._subscribers, s =>
                s.TryGetValue(channel, out var list) ? s.SetItem(channel, list.Remove(handler)) : s);
            return ValueTask.CompletedTask;
        }
    }
}
