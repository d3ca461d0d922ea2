using Orleans;
using Orleans.Runtime;

namespace Homeserver.Grains.Interfaces.Streams;

/// <summary>
/// "<see cref="Stream"/> moved to <see cref="Position"/> for these rooms and users": a wake-up call
/// for the /sync requests that care. <see cref="Topics"/> are <see cref="SyncHintStreams.RoomTopic"/>
/// and <see cref="SyncHintStreams.UserTopic"/> keys, all of one partition. Hints are at most once
/// (no catch-up): the woken sync reads the data itself from PostgreSQL, so a lost hint costs
/// latency, never an event.
/// </summary>
[GenerateSerializer, Immutable, Alias("SyncHint")]
public sealed record SyncHint([property: Id(0)] string Stream, [property: Id(1)] long Position, [property: Id(2)] string[] Topics);

/// <summary>
/// The streams that carry <see cref="SyncHint"/>s: a fixed set of partitions that every API host
/// subscribes to once and filters locally by the rooms and users its syncs follow. Per-room and
/// per-user streams were tried first: every new stream and subscription costs Orleans a pub/sub
/// registration and a handshake, during which its pulling agent stops reading the queue, and a
/// fan-out to 500 new members held hints back for minutes (BENCHMARKS.md).
/// </summary>
public static class SyncHintStreams
{
    public const string Namespace = "sync";

    /// <summary>Enough partitions to spread over the pulling agents' queues, few enough to subscribe to all.</summary>
    public const int Partitions = 16;

    /// <summary>Events, receipts, and the presence and device-list changes of the room's members.</summary>
    public static string RoomTopic(string roomId) => "room:" + roomId;

    /// <summary>The user's own account data, to-device messages, push rules and membership changes.</summary>
    public static string UserTopic(string userId) => "user:" + userId;

    /// <summary>The partition stream that carries the hints of <paramref name="topic"/>.</summary>
    public static StreamId PartitionOf(string topic) => Partition(StablePartitions.Of(topic, Partitions));

    public static StreamId Partition(int index) => StreamId.Create(Namespace, index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static IEnumerable<StreamId> All => Enumerable.Range(0, Partitions).Select(Partition);
}

/// <summary>The typing streams: the same fixed partitioning as <see cref="SyncHintStreams"/>, by room.</summary>
public static class TypingStreams
{
    public const int Partitions = SyncHintStreams.Partitions;

    public static StreamId PartitionOf(string roomId) => Partition(StablePartitions.Of(roomId, Partitions));

    public static StreamId Partition(int index) => StreamId.Create(StreamNames.Typing, index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static IEnumerable<StreamId> All => Enumerable.Range(0, Partitions).Select(Partition);
}

/// <summary>A partition index every process computes alike (string.GetHashCode differs per process).</summary>
public static class StablePartitions
{
    public static int Of(string key, int partitions)
    {
        // FNV-1a over the UTF-16 code units.
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (int)(hash % (uint)partitions);
    }
}
