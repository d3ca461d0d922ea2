using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Storage.Streams;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;

namespace Homeserver.Grains.Streams;

/// <summary>
/// Announces committed rows of the per-user streams: on the stream itself, for every process that
/// follows all of it, and as <see cref="SyncHint"/>s to the syncs that care.
/// </summary>
public sealed class StreamPublisher(ReplicationStreams streams, LocalStreamWriters writers, SyncHintPublisher hints, GrainsLog log)
{
    /// <summary>The local writer of <paramref name="stream"/>; this process must be one of its <c>stream_writers</c>.</summary>
    public MultiWriterIdGenerator Writer(string stream) => writers.Get(stream);

    /// <summary>A row only its user's syncs read: to-device messages, push rules.</summary>
    public async Task PublishAsync(string stream, string userId, long position)
    {
        await PublishAsync(stream, new UserStreamRow(userId), position, userId);
        await hints.ToUserAsync(userId, stream, position);
    }

    /// <summary>A row every member of the room reads: receipts.</summary>
    public async Task PublishToRoomAsync(string stream, string userId, string roomId, long position)
    {
        await PublishAsync(stream, new UserStreamRow(userId), position, userId);
        await hints.ToRoomAsync(roomId, stream, position);
    }

    /// <summary>A row everyone who shares a room with the user reads: presence, device lists.</summary>
    public async Task PublishToPeersAsync(string stream, string userId, long position)
    {
        await PublishAsync(stream, new UserStreamRow(userId), position, userId);
        await hints.ToUserAndPeersAsync(userId, stream, position);
    }

    /// <summary>
    /// Persists the writer's position (readers elsewhere see the row from then on, not at the next
    /// tick) and publishes the row. Failures only delay readers, who catch up from PostgreSQL, so
    /// they are logged, not thrown. <paramref name="subject"/> names what the row is about in the log.
    /// </summary>
    public async Task PublishAsync<T>(string stream, T row, long position, string subject)
    {
        try
        {
            await writers.Get(stream).PersistAsync();
            await streams.Get<T>(StreamId.Create(stream, "")).PublishAsync(row, position);
        }
        catch (Exception e)
        {
            log.StreamPublishFailed(e, stream, subject);
        }
    }
}
