using Homeserver.Grains.Interfaces.Caches;
using Homeserver.Storage.Caches;
using Homeserver.Storage.Streams;
using Orleans.Runtime;

namespace Homeserver.Cluster.Streams;

/// <summary>cache_invalidations as the durable record of the caches stream: an API host that missed a row over its Orleans stream reads it here.</summary>
public sealed class CacheInvalidationCatchUp(CacheInvalidationStore store, StreamPositionReader positions) : IStreamCatchUpSource<CacheInvalidationRow>
{
    private const int PageSize = 1000;

    public Task<long> GetSafePositionAsync(StreamId id, CancellationToken cancellationToken) =>
        positions.GetSafePositionAsync(CacheInvalidationStore.StreamName, cancellationToken);

    public Task<long> GetLatestPositionAsync(StreamId id, CancellationToken cancellationToken) =>
        positions.GetSequencePositionAsync(CacheInvalidationStore.StreamName, cancellationToken);

    public async Task<IReadOnlyList<StreamItem<CacheInvalidationRow>>> ReadAsync(StreamId id, long after, long upTo, CancellationToken cancellationToken)
    {
        var items = new List<StreamItem<CacheInvalidationRow>>();
        while (true)
        {
            var page = await store.ReadAsync(after, upTo, PageSize, cancellationToken);
            items.AddRange(page.Select(r => new StreamItem<CacheInvalidationRow>(r.Position, new CacheInvalidationRow(r.CacheName, r.Key))));
            if (page.Count < PageSize) return items;
            after = page[^1].Position;
        }
    }
}
