using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.Caches;

public sealed record CacheInvalidation(long Position, string CacheName, string Key);

/// <summary>The caches stream's durable rows: which cache entries every API host must drop.</summary>
public sealed class CacheInvalidationStore(NpgsqlDataSource dataSource)
{
    public const string StreamName = "caches";

    public Task<long> InvalidateAsync(string cacheName, string key, MultiWriterIdGenerator caches, CancellationToken cancellationToken = default) =>
        caches.WriteAsync(dataSource, async (connection, tx, position) =>
        {
            await using var insert = new NpgsqlCommand("INSERT INTO cache_invalidations (stream_id, cache_name, cache_key) VALUES ($1, $2, $3)",
                connection, tx).With(position, cacheName, key);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public async Task<IReadOnlyList<CacheInvalidation>> ReadAsync(long after, long upTo, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT stream_id, cache_name, cache_key FROM cache_invalidations WHERE stream_id > $1 AND stream_id <= $2 ORDER BY stream_id LIMIT $3
            """).With(after, upTo, limit);
        var rows = new List<CacheInvalidation>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add(new CacheInvalidation(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        return rows;
    }
}
