namespace Orleans.Runtime.Catalog;

/// <summary>
/// Turn-based scheduling for one activation. Callers queue in FIFO order; an exclusive turn runs
/// alone, consecutive read-only turns at the head of the queue run together. The turn is held
/// for the whole call, across awaits, exactly like a non-reentrant Orleans grain.
/// </summary>
internal sealed class ActivationLock
{
    private readonly object _gate = new();
    private readonly Queue<(bool ReadOnly, TaskCompletionSource<IDisposable> Grant)> _waiters = new();
    private int _readers;
    private bool _writer;

    public Task<IDisposable> EnterAsync(bool readOnly)
    {
        var grant = new TaskCompletionSource<IDisposable>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiters.Enqueue((readOnly, grant));
            Pump();
        }
        return grant.Task;
    }

    public int QueueLength
    {
        get { lock (_gate) { return _waiters.Count + _readers + (_writer ? 1 : 0); } }
    }

    private void Pump()
    {
        while (_waiters.Count > 0 && !_writer)
        {
            var (readOnly, grant) = _waiters.Peek();
            if (readOnly)
            {
                _waiters.Dequeue();
                _readers++;
                grant.SetResult(new Release(this, readOnly: true));
            }
            else if (_readers == 0)
            {
                _waiters.Dequeue();
                _writer = true;
                grant.SetResult(new Release(this, readOnly: false));
            }
            else
            {
                return;
            }
        }
    }

    private void Exit(bool readOnly)
    {
        lock (_gate)
        {
            if (readOnly) _readers--; else _writer = false;
            Pump();
        }
    }

    private sealed class Release(ActivationLock owner, bool readOnly) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Exit(readOnly);
        }
    }
}
