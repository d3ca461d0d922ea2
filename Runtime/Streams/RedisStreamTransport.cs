using StackExchange.Redis;

namespace Orleans.Streams;

/// <summary>
/// Stream rows between processes over Redis pub/sub. Pub/sub is fire-and-forget: a subscriber
/// that is disconnected loses messages, so a reconnect raises <see cref="MayHaveLostMessages"/>
/// and subscriptions read what they missed from PostgreSQL.
/// </summary>
public sealed class RedisStreamTransport : IStreamTransport, IDisposable
{
    private readonly ConnectionMultiplexer _redis;
    private readonly string _prefix;

    public RedisStreamTransport(string configuration, string channelPrefix)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        _redis = ConnectionMultiplexer.Connect(options);
        _prefix = channelPrefix;
        _redis.ConnectionRestored += (_, _) => MayHaveLostMessages?.Invoke();
    }

    public event Action? MayHaveLostMessages;

    public Task PublishAsync(string channel, string payload) =>
        _redis.GetSubscriber().PublishAsync(_prefix + channel, payload);

    public async Task<IAsyncDisposable> SubscribeAsync(string channel, Action<string> onMessage)
    {
        var subscriber = _redis.GetSubscriber();
        Action<RedisChannel, RedisValue> handler = (_, value) => onMessage(value!);
        await subscriber.SubscribeAsync(_prefix + channel, handler).ConfigureAwait(false);
        return new Subscription(subscriber, _prefix + channel, handler);
    }

    public void Dispose() => _redis.Dispose();

    private sealed class Subscription(ISubscriber subscriber, string channel, Action<RedisChannel, RedisValue> handler) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await subscriber.UnsubscribeAsync(channel, handler).ConfigureAwait(false);
    }
}
