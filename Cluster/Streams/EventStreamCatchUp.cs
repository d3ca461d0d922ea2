using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Streams;
using Orleans.Runtime;

namespace Homeserver.Cluster.Streams;

/// <summary>The events table as the durable record of the events stream.</summary>
public sealed class EventStreamCatchUp(EventReader events, StreamPositionReader positions) : IStreamCatchUpSource<EventStreamRow>
{
    private const int PageSize = 1000;

    public Task<long> GetSafePositionAsync(StreamId id, CancellationToken cancellationToken) =>
        positions.GetSafePositionAsync(StreamNames.Events, cancellationToken);

    public Task<long> GetLatestPositionAsync(StreamId id, CancellationToken cancellationToken) =>
        positions.GetSequencePositionAsync(StreamNames.Events, cancellationToken);

    public async Task<IReadOnlyList<StreamItem<EventStreamRow>>> ReadAsync(StreamId id, long after, long upTo,
        CancellationToken cancellationToken)
    {
        var items = new List<StreamItem<EventStreamRow>>();
        while (true)
        {
            var page = await events.ReadStreamAsync(after, upTo, PageSize, cancellationToken);
            items.AddRange(page.Select(r => new StreamItem<EventStreamRow>(r.StreamOrdering,
                new EventStreamRow(r.RoomId, r.EventId, r.Type, r.StateKey, r.Sender, r.InstanceName))));
            if (page.Count < PageSize) return items;
            after = page[^1].StreamOrdering;
        }
    }
}
