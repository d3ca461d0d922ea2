using Npgsql;

namespace Homeserver.Storage.Streams;

public static class StreamWrites
{
    /// <summary>
    /// Runs <paramref name="write"/> in one transaction with a fresh position of this writer's stream,
    /// commits, and returns the position. The position is released on commit and on failure alike.
    /// </summary>
    public static async Task<long> WriteAsync(this MultiWriterIdGenerator positions, NpgsqlDataSource dataSource,
        Func<NpgsqlConnection, NpgsqlTransaction, long, Task> write, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        using var lease = await positions.AllocateAsync(connection, tx, cancellationToken);
        await write(connection, tx, lease.Position);
        await tx.CommitAsync(cancellationToken);
        return lease.Position;
    }
}
