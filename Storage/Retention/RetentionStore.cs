using Npgsql;

namespace Homeserver.Storage.Retention;

/// <summary>
/// Deletes rows that nothing reads any more, in small batches (each its own statement, so no lock
/// is held long and a stop loses nothing). Every method returns how many rows went.
/// </summary>
public sealed class RetentionStore(NpgsqlDataSource dataSource)
{
    private const int BatchSize = 5_000;

    /// <summary>
    /// Push actions written before <paramref name="beforeTs"/> that can never count as unread again:
    /// at or before the user's read receipt covering them, or before their current membership (the same
    /// boundaries the unread counts use), so pruning never changes a count. Unread ones stay.
    /// </summary>
    public Task<long> PrunePushActionsAsync(long beforeTs, CancellationToken cancellationToken) => DeleteInBatchesAsync("""
        DELETE FROM event_push_actions WHERE ctid IN (
            SELECT a.ctid FROM event_push_actions a
            WHERE a.created_ts < $1
              AND a.stream_ordering <= GREATEST(
                  (SELECT max(r.event_stream_ordering) FROM receipts r
                   WHERE r.room_id = a.room_id AND r.user_id = a.user_id AND r.receipt_type IN ('m.read', 'm.read.private')
                     AND r.thread_id IN ('', CASE WHEN a.thread_id = '' THEN 'main' ELSE a.thread_id END)),
                  (SELECT e.stream_ordering FROM current_state_events c JOIN events e ON e.event_id = c.event_id
                   WHERE c.room_id = a.room_id AND c.type = 'm.room.member' AND c.state_key = a.user_id), 0)
            LIMIT $2)
        """, beforeTs, cancellationToken);

    /// <summary>Event transaction IDs older than <paramref name="beforeTs"/>: a client retries within minutes, not days.</summary>
    public Task<long> PruneEventTransactionIdsAsync(long beforeTs, CancellationToken cancellationToken) => DeleteInBatchesAsync(
        "DELETE FROM event_txn_ids WHERE ctid IN (SELECT ctid FROM event_txn_ids WHERE created_ts < $1 LIMIT $2)", beforeTs, cancellationToken);

    /// <summary>/sendToDevice transaction IDs older than <paramref name="beforeTs"/>.</summary>
    public Task<long> PruneToDeviceTransactionIdsAsync(long beforeTs, CancellationToken cancellationToken) => DeleteInBatchesAsync(
        "DELETE FROM to_device_transactions WHERE ctid IN (SELECT ctid FROM to_device_transactions WHERE created_ts < $1 LIMIT $2)",
        beforeTs, cancellationToken);

    /// <summary>
    /// Cache invalidations older than <paramref name="beforeTs"/>. A process catches up on the caches
    /// stream only from where it last was; one that has been away longer starts with empty caches.
    /// </summary>
    public Task<long> PruneCacheInvalidationsAsync(long beforeTs, CancellationToken cancellationToken) => DeleteInBatchesAsync(
        "DELETE FROM cache_invalidations WHERE ctid IN (SELECT ctid FROM cache_invalidations WHERE created_ts < $1 LIMIT $2)",
        beforeTs, cancellationToken);

    private async Task<long> DeleteInBatchesAsync(string sql, long beforeTs, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            await using var command = dataSource.CreateCommand(sql).With(beforeTs, BatchSize);
            var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
            if (deleted < BatchSize) return total;
        }
    }
}
