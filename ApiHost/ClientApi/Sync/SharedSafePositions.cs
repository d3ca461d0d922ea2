using Homeserver.Storage.Streams;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// Safe stream positions for /sync, read once for many callers: a caller shares a read that starts
/// after it asked (never one already under way, which could miss a row committed just before the
/// caller was woken). A burst of woken syncs then costs one or two reads instead of one each.
/// </summary>
public sealed class SharedSafePositions(StreamPositionReader positions)
{
    private readonly Lock _gate = new();
    private Task<IReadOnlyDictionary<string, long>>? _running;
    private Task<IReadOnlyDictionary<string, long>>? _queued;

    public Task<IReadOnlyDictionary<string, long>> GetAsync()
    {
        lock (_gate)
        {
            if (_queued is not null) return _queued;
            if (_running is null || _running.IsCompleted) return _running = positions.GetSafePositionsAsync();
            return _queued = ReadAfterAsync(_running);
        }
    }

    private async Task<IReadOnlyDictionary<string, long>> ReadAfterAsync(Task running)
    {
        try
        {
            await running;
        }
        catch (Exception)
        {
            // Its callers see that failure; this read is a new attempt.
        }
        Task<IReadOnlyDictionary<string, long>> read;
        lock (_gate)
        {
            read = positions.GetSafePositionsAsync();
            _running = read;
            _queued = null;
        }
        return await read;
    }
}
