using Orleans.Runtime;

namespace Homeserver.Cluster.Streams;

/// <summary>One row read back from the durable record, with its position.</summary>
public sealed record StreamItem<T>(long Position, T Item);

/// <summary>
/// The durable record behind a stream (PostgreSQL): lets a late or disconnected subscriber read
/// what it missed. Registered in DI per row type.
/// </summary>
public interface IStreamCatchUpSource<T>
{
    /// <summary>The highest position below which every writer has committed (see Storage's stream positions).</summary>
    Task<long> GetSafePositionAsync(StreamId id, CancellationToken cancellationToken);

    /// <summary>The highest position handed out so far (committed or not): what a new subscriber waits to be safe.</summary>
    Task<long> GetLatestPositionAsync(StreamId id, CancellationToken cancellationToken);

    Task<IReadOnlyList<StreamItem<T>>> ReadAsync(StreamId id, long after, long upTo, CancellationToken cancellationToken);
}
