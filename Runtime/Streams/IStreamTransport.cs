namespace Orleans.Streams;

/// <summary>Moves stream rows between publishers and subscribers: in-process, or Redis pub/sub between processes.</summary>
public interface IStreamTransport
{
    Task PublishAsync(string channel, string payload);

    Task<IAsyncDisposable> SubscribeAsync(string channel, Action<string> onMessage);

    /// <summary>Raised when the transport may have lost messages (a reconnect), so subscribers catch up.</summary>
    event Action? MayHaveLostMessages;
}
