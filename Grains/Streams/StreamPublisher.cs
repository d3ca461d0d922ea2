using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Storage.Streams;
using Orleans.Streams;

namespace Homeserver.Grains.Streams;

/// <summary>Announces committed rows of the per-user streams to every process that follows them.</summary>
public sealed class StreamPublisher(IStreamProvider streams, LocalStreamWriters writers, GrainsLog log)
{
    /// <summary>The local writer of <paramref name="stream"/>; this process must be one of its <c>stream_writers</c>.</summary>
    public MultiWriterIdGenerator Writer(string stream) => writers.Get(stream);

    /// <summary>
    /// Persists the writer's position (readers elsewhere see the row from then on, not at the next
    /// tick) and publishes the row. Failures only delay readers, who catch up from PostgreSQL, so they are logged, not thrown.
    /// </summary>
    public Task PublishAsync(string stream, string userId, long position) => PublishAsync(stream, new UserStreamRow(userId), position, userId);

    /// <summary>The same for any row type: <paramref name="subject"/> names what the row is about in the log.</summary>
    public async Task PublishAsync<T>(string stream, T row, long position, string subject)
    {
        try
        {
            await writers.Get(stream).PersistAsync();
            await streams.GetStream<T>(StreamId.Create(stream)).OnNextAsync(row, new StreamSequenceToken(position));
        }
        catch (Exception e)
        {
            log.StreamPublishFailed(e, stream, subject);
        }
    }
}
