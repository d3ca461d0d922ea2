using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Storage.Rooms;
using Homeserver.Cluster.Streams;

namespace Homeserver.Grains.Streams;

/// <summary>
/// Tells the API hosts whose users care that a stream moved (see <see cref="SyncHint"/>). Hints
/// go out after the row is durable and its position persisted, one per partition touched; a
/// failure only delays a sync until its timeout or next wake-up, so it is logged, not thrown.
/// </summary>
public sealed class SyncHintPublisher(ReplicationStreams streams, RoomReader rooms, GrainsLog log)
{
    public Task ToUserAsync(string userId, string stream, long position) =>
        PublishAsync([SyncHintStreams.UserTopic(userId)], stream, position, userId);

    public Task ToRoomAsync(string roomId, string stream, long position, IEnumerable<string>? alsoToUsers = null) =>
        PublishAsync([SyncHintStreams.RoomTopic(roomId), .. (alsoToUsers ?? []).Select(SyncHintStreams.UserTopic)], stream, position, roomId);

    /// <summary>To the user and to every room they are joined to: presence and device-list changes concern everyone who shares a room.</summary>
    public async Task ToUserAndPeersAsync(string userId, string stream, long position)
    {
        IReadOnlyList<string> joined;
        try
        {
            joined = await rooms.GetJoinedRoomsAsync(userId);
        }
        catch (Exception e)
        {
            log.SyncHintFailed(e, stream, userId);
            joined = [];
        }
        await PublishAsync([SyncHintStreams.UserTopic(userId), .. joined.Select(SyncHintStreams.RoomTopic)], stream, position, userId);
    }

    private async Task PublishAsync(IEnumerable<string> topics, string stream, long position, string subject)
    {
        try
        {
            await Task.WhenAll(topics.Distinct(StringComparer.Ordinal).GroupBy(SyncHintStreams.PartitionOf).Select(partition =>
                streams.Get<SyncHint>(partition.Key).PublishAsync(new SyncHint(stream, position, [.. partition]), position)));
        }
        catch (Exception e)
        {
            log.SyncHintFailed(e, stream, subject);
        }
    }
}
