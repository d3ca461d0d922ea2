using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>
/// Stream positions for one writer of a multi-writer stream (Synapse's MultiWriterIdGenerator idea).
///
/// Every writer of a stream takes positions from one PostgreSQL sequence, so positions are unique
/// but commit out of order. A writer knows which of its own positions are still in flight; its
/// "persisted up to" position is one below the smallest of them. Readers expose only positions at
/// or below the minimum over all writers, so a row can never appear later below what a reader has
/// already read past.
///
/// An idle writer has nothing in flight, so everything it will ever write gets a position above the
/// sequence's current value. When it persists with nothing in flight it marks its row idle, and
/// readers bound it by the sequence (read before the rows) instead of its position, so it never holds
/// the other writers' rows back. Before its next allocation it clears the mark, in its own committed
/// statement, so a reader that still sees the mark read the sequence before that allocation.
/// Marking and clearing happen under the idle lock, and an allocation that starts while the row is
/// (or is being) marked idle waits for it and clears the mark first, so no allocation can slip
/// between the "nothing in flight" check and the mark. They run on a pool of their own: an
/// allocation waits for the lock while holding a connection of the main pool, so a lock holder that
/// needed one of those could wait for ever once every connection is held by a waiter.
///
/// Allocations run concurrently (every room of a silo allocates from its events writer), so a nextval
/// can still be on its way back while a later one has returned, committed and completed: 101 done
/// while 100 is in transit must not move the position past 100. An allocation in transit will get a
/// value above its floor, the highest value returned before it started (the sequence only goes up),
/// so the position never passes the lowest floor in transit, nor one below the smallest position in flight.
/// </summary>
public sealed class MultiWriterIdGenerator
{
    private readonly object _gate = new();
    private readonly SortedSet<long> _inFlight = [];
    private readonly List<long> _floorsInTransit = [];
    private readonly NpgsqlDataSource _dataSource;
    private long _position;
    private long _maxAllocated;
    private int _allocating;
    private long _allocationGeneration;
    private long _persisted = long.MinValue;
    private readonly SemaphoreSlim _idleLock = new(1, 1);

    /// <summary>Whether this writer's row says idle (or may: a failed mark counts); changed under <see cref="_idleLock"/> and <see cref="_gate"/>.</summary>
    private bool _idleInDb;

    /// <summary>An idle mark is being written (under <see cref="_idleLock"/>); allocations starting now wait for it and clear it.</summary>
    private bool _markingIdle;

    private MultiWriterIdGenerator(NpgsqlDataSource dataSource, string streamName, string instanceName, long position, int writerId)
    {
        _dataSource = dataSource;
        StreamName = streamName;
        InstanceName = instanceName;
        WriterId = writerId;
        _position = position;
        _maxAllocated = position;
    }

    public string StreamName { get; }
    public string InstanceName { get; }

    /// <summary>Stable number of this writer (stream_writer_ids), used in tokens.</summary>
    public int WriterId { get; }

    /// <summary>How far this writer's highest allocated position is ahead of what it has committed (0 when idle).</summary>
    public long Lag
    {
        get { lock (_gate) return Math.Max(0, _maxAllocated - _position); }
    }

    /// <summary>Every position of this writer at or below this is committed (or was abandoned).</summary>
    public long CurrentPosition
    {
        get { lock (_gate) return _position; }
    }

    /// <param name="positionsSource">Where position rows are written; a pool apart from <paramref name="dataSource"/>'s (see the class remarks).</param>
    public static async Task<MultiWriterIdGenerator> CreateAsync(NpgsqlDataSource dataSource, string streamName,
        string instanceName, CancellationToken cancellationToken = default, NpgsqlDataSource? positionsSource = null)
    {
        var writerId = await StreamWriterIds.GetOrCreateAsync(dataSource, instanceName, cancellationToken);
        var position = await StreamSequences.ReadCurrentAsync(dataSource, streamName, cancellationToken);
        var generator = new MultiWriterIdGenerator(positionsSource ?? dataSource, streamName, instanceName, position, writerId);
        await generator.PersistAsync(cancellationToken);
        return generator;
    }

    /// <summary>Takes the next position inside the caller's transaction; dispose the lease after commit or rollback.</summary>
    public async Task<PositionLease> AllocateAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction,
        CancellationToken cancellationToken = default)
    {
        long floor;
        bool mayBeIdle;
        lock (_gate)
        {
            _allocating++;
            _allocationGeneration++;
            floor = _maxAllocated;
            _floorsInTransit.Add(floor);
            mayBeIdle = _idleInDb || _markingIdle;
        }
        try
        {
            if (mayBeIdle) await ClearIdleMarkAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"SELECT nextval('{StreamName}_stream_seq')", connection, transaction);
            var position = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            lock (_gate)
            {
                _inFlight.Add(position);
                _maxAllocated = Math.Max(_maxAllocated, position);
            }
            return new PositionLease(this, position);
        }
        finally
        {
            lock (_gate)
            {
                _floorsInTransit.Remove(floor);
                _allocating--;
            }
        }
    }

    private async Task ClearIdleMarkAsync(CancellationToken cancellationToken)
    {
        await _idleLock.WaitAsync(cancellationToken);
        try
        {
            if (_idleInDb) await MarkBusyAsync(cancellationToken);
        }
        finally
        {
            _idleLock.Release();
        }
    }

    /// <summary>When nothing is in flight, moves this writer's position up to the sequence's current value.</summary>
    public async Task AdvanceIfIdleAsync(CancellationToken cancellationToken = default)
    {
        long generation;
        lock (_gate)
        {
            if (_inFlight.Count > 0 || _allocating > 0) return;
            generation = _allocationGeneration;
        }
        var current = await StreamSequences.ReadCurrentAsync(_dataSource, StreamName, cancellationToken);
        lock (_gate)
        {
            if (_inFlight.Count > 0 || _allocating > 0 || _allocationGeneration != generation) return;
            _position = Math.Max(_position, current);
        }
    }

    /// <summary>
    /// Writes this writer's position to stream_positions, where readers in other processes find it;
    /// with nothing in flight, marks the row idle instead.
    /// </summary>
    public async Task PersistAsync(CancellationToken cancellationToken = default)
    {
        if (IsQuiet && await _idleLock.WaitAsync(0, cancellationToken))
        {
            try
            {
                lock (_gate)
                {
                    // Checked again under the gate: an allocation that started since counts as busy, and
                    // one that starts from now on sees the mark coming and waits for the idle lock.
                    if (!_idleInDb && _inFlight.Count == 0 && _allocating == 0) _markingIdle = true;
                }
                if (_idleInDb) return;
                if (_markingIdle)
                {
                    try
                    {
                        await WriteRowAsync(CurrentPosition, idle: true, cancellationToken);
                    }
                    finally
                    {
                        // Even a failed write may have committed: the next allocation clears the mark to be sure.
                        lock (_gate)
                        {
                            _idleInDb = true;
                            _markingIdle = false;
                        }
                    }
                    return;
                }
            }
            finally
            {
                _idleLock.Release();
            }
        }
        var position = CurrentPosition;
        if (position <= Interlocked.Read(ref _persisted)) return;
        await WriteRowAsync(position, idle: false, cancellationToken);
    }

    private bool IsQuiet
    {
        get { lock (_gate) return _inFlight.Count == 0 && _allocating == 0; }
    }

    private async Task WriteRowAsync(long position, bool idle, CancellationToken cancellationToken)
    {
        // The idle flag is only ever set here with nothing in flight; a plain position update keeps it as it is.
        await using var command = PositionCommand("""
            INSERT INTO stream_positions (stream_name, instance_name, position, idle) VALUES ($1, $2, $3, $4)
            ON CONFLICT (stream_name, instance_name)
            DO UPDATE SET position = GREATEST(stream_positions.position, EXCLUDED.position),
                          idle = EXCLUDED.idle OR stream_positions.idle
            """, StreamName, InstanceName, position, idle);
        await command.ExecuteNonQueryAsync(cancellationToken);
        InterlockedMax(ref _persisted, position);
    }

    private NpgsqlCommand PositionCommand(string sql, params object[] values)
    {
        var command = _dataSource.CreateCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return command;
    }

    /// <summary>
    /// Clears the idle mark before an allocation, committed on its own. The row's position moves up to
    /// the sequence's current value, which is true of this writer: it has nothing in flight.
    /// </summary>
    private async Task MarkBusyAsync(CancellationToken cancellationToken)
    {
        await using var command = PositionCommand($"""
            UPDATE stream_positions SET idle = false,
                position = GREATEST(position, (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {StreamName}_stream_seq))
            WHERE stream_name = $1 AND instance_name = $2
            RETURNING position
            """, StreamName, InstanceName);
        if (await command.ExecuteScalarAsync(cancellationToken) is long position)
        {
            lock (_gate)
            {
                _position = Math.Max(_position, position);
                _maxAllocated = Math.Max(_maxAllocated, position);
            }
            InterlockedMax(ref _persisted, position);
        }
        lock (_gate) _idleInDb = false;
    }

    internal void Complete(long position)
    {
        lock (_gate)
        {
            _inFlight.Remove(position);
            var upTo = _inFlight.Count > 0 ? _inFlight.Min - 1 : _maxAllocated;
            if (_floorsInTransit.Count > 0) upTo = Math.Min(upTo, _floorsInTransit.Min());
            _position = Math.Max(_position, upTo);
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while ((current = Interlocked.Read(ref target)) < value &&
               Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}

/// <summary>A position taken inside a transaction; disposing it (after commit or rollback) releases it.</summary>
public sealed class PositionLease(MultiWriterIdGenerator owner, long position) : IDisposable
{
    private int _completed;

    public long Position { get; } = position;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0) owner.Complete(Position);
    }
}
