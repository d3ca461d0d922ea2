using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.Receipts;

public sealed record ReceiptRow(string RoomId, string ReceiptType, string UserId, string? ThreadId, string EventId, long Ts);

/// <summary>The receipts stream: each user's latest receipt per room, type and thread.</summary>
public sealed class ReceiptStore(NpgsqlDataSource dataSource)
{
    /// <summary>Stores a receipt unless the user's receipt of that kind already points at a later event; returns the position, or null when ignored.</summary>
    public async Task<long?> SetAsync(ReceiptRow receipt, long eventStreamOrdering, MultiWriterIdGenerator receipts, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        using var lease = await receipts.AllocateAsync(connection, tx, cancellationToken);
        await using var upsert = new NpgsqlCommand("""
            INSERT INTO receipts AS r (room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, ts, stream_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET
                event_id = EXCLUDED.event_id, event_stream_ordering = EXCLUDED.event_stream_ordering, ts = EXCLUDED.ts, stream_id = EXCLUDED.stream_id
            WHERE EXCLUDED.event_stream_ordering > r.event_stream_ordering
            """, connection, tx).With(receipt.RoomId, receipt.ReceiptType, receipt.UserId, receipt.ThreadId ?? "", receipt.EventId,
            eventStreamOrdering, receipt.Ts, lease.Position);
        if (await upsert.ExecuteNonQueryAsync(cancellationToken) == 0) return null;
        await tx.CommitAsync(cancellationToken);
        return lease.Position;
    }

    /// <summary>Receipts in the given rooms that changed in (after, upTo]; private ones only for their owner.</summary>
    public async Task<IReadOnlyList<ReceiptRow>> GetChangedAsync(IReadOnlyList<string> roomIds, string viewerUserId, long after, long upTo,
        CancellationToken cancellationToken = default)
    {
        if (roomIds.Count == 0 || upTo <= after) return [];
        await using var command = dataSource.CreateCommand("""
            SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts
            WHERE room_id = ANY($1) AND stream_id > $2 AND stream_id <= $3 AND (receipt_type <> 'm.read.private' OR user_id = $4)
            ORDER BY stream_id
            """).With(roomIds.ToArray(), after, upTo, viewerUserId);
        var rows = new List<ReceiptRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var thread = reader.GetString(3);
            rows.Add(new ReceiptRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), thread.Length == 0 ? null : thread,
                reader.GetString(4), reader.GetInt64(5)));
        }
        return rows;
    }
}
