namespace Orleans.Streams;

/// <summary>A stream's identity: a namespace (events, typing, receipts, ...) and a key within it.</summary>
public readonly record struct StreamId(string Namespace, string Key)
{
    public static StreamId Create(string streamNamespace, string key = "") => new(streamNamespace, key);
    public override string ToString() => Key.Length == 0 ? Namespace : $"{Namespace}/{Key}";
}

/// <summary>A position in a stream: PostgreSQL's stream ordering of the row.</summary>
public sealed record StreamSequenceToken(long Position) : IComparable<StreamSequenceToken>
{
    public int CompareTo(StreamSequenceToken? other) => Position.CompareTo(other?.Position ?? long.MinValue);
}

/// <summary>One stream row with its position.</summary>
public sealed record StreamItem<T>(long Position, T Item);

public interface IAsyncStream<T>
{
    StreamId StreamId { get; }

    /// <summary>Publishes a row that is already durable at <paramref name="token"/>'s position.</summary>
    Task OnNextAsync(T item, StreamSequenceToken token);

    /// <summary>
    /// Delivers every row after <paramref name="from"/> (or, without it, rows published from now on)
    /// exactly once, one at a time. Rows missed by the transport are recovered from the catch-up source.
    /// </summary>
    Task<StreamSubscriptionHandle> SubscribeAsync(Func<T, StreamSequenceToken, Task> onNext, StreamSequenceToken? from = null);
}

public interface IStreamProvider
{
    IAsyncStream<T> GetStream<T>(StreamId id);
}

public abstract class StreamSubscriptionHandle : IAsyncDisposable
{
    /// <summary>Every position at or below this has been delivered (or never existed).</summary>
    public abstract long Watermark { get; }

    /// <summary>Reads the durable record for anything the transport lost, up to the source's safe position.</summary>
    public abstract Task CatchUpAsync();

    public abstract ValueTask UnsubscribeAsync();

    public ValueTask DisposeAsync() => UnsubscribeAsync();
}

/// <summary>
/// The durable record behind a stream (PostgreSQL): lets a late or disconnected subscriber read
/// what it missed. Registered in DI per item type.
/// </summary>
public interface IStreamCatchUpSource<T>
{
    /// <summary>The highest position below which every writer has committed (see Storage's stream positions).</summary>
    Task<long> GetSafePositionAsync(StreamId id, CancellationToken cancellationToken);

    /// <summary>The highest position handed out so far (committed or not): what a new subscriber waits to be safe.</summary>
    Task<long> GetLatestPositionAsync(StreamId id, CancellationToken cancellationToken);

    Task<IReadOnlyList<StreamItem<T>>> ReadAsync(StreamId id, long after, long upTo, CancellationToken cancellationToken);
}
