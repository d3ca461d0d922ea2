using System.Globalization;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces;
using Homeserver.Storage.Streams;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// The long poll shared by /sync and the legacy /events: build an answer up to the current safe
/// positions; if it holds nothing new, wait for a wake that may bring something and build again,
/// until the timeout (then the empty answer goes out) or the client goes away (then nothing does).
/// </summary>
public static class SyncLongPoll
{
    public const int MaxTimeout = 60_000;
    private static readonly TimeSpan FirstLookAgain = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan LastLookAgain = TimeSpan.FromSeconds(1);

    /// <param name="Body">What goes out.</param>
    /// <param name="HasNews">Whether it holds anything new: if not, the poll waits.</param>
    /// <param name="Follow">The rooms whose events concern this answer: their wakes reach the poll.</param>
    public sealed record Answer<T>(T Body, bool HasNews, IReadOnlyList<string> Follow);

    /// <summary>The answer to send, or null when the client went away first.</summary>
    public static async Task<T?> RunAsync<T>(HttpContext http, string userId, int timeoutMs, IReadOnlySet<string> unseenStreams,
        SyncNotifier notifier, StreamPositionReader positions, TypingCache typing, TimeProvider clock, Func<SyncToken, Task<Answer<T>>> build)
        where T : class
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(timeoutMs), clock);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadline.Token);
        using var listener = await notifier.ListenAsync(userId, http.RequestAborted);
        var lookAgainIn = FirstLookAgain;
        while (true)
        {
            var wake = listener.NextChangeAsync(cancel.Token);
            var readAt = listener.NextRead();
            var upTo = await CurrentTokenAsync(positions, typing);
            var answer = await build(upTo);
            await listener.FollowRoomsAsync(answer.Follow, readAt, http.RequestAborted);
            notifier.Built(answered: answer.HasNews || cancel.IsCancellationRequested, answer.HasNews);
            if (answer.HasNews || cancel.IsCancellationRequested) return answer.Body;
            try
            {
                // Positions are persisted just before a row is announced, but a reader can still look in between: if so, look
                // again soon, and less often the longer it lasts (a writer that died mid-write holds its stream back for a while).
                if (listener.IsAheadOf(upTo, unseenStreams))
                {
                    await Task.Delay(lookAgainIn, clock, cancel.Token);
                    lookAgainIn = TimeSpan.FromTicks(Math.Min(lookAgainIn.Ticks * 2, LastLookAgain.Ticks));
                }
                else
                {
                    lookAgainIn = FirstLookAgain;
                    await wake;
                    // Woken by nothing this answer lacks (rows it already holds, or rows it never shows):
                    // wait on without rebuilding. The next wake is taken before the check, so a row announced in
                    // between still wakes it.
                    while (true)
                    {
                        wake = listener.NextChangeAsync(cancel.Token);
                        if (!listener.NothingNewBeyond(upTo, unseenStreams)) break;
                        await wake;
                    }
                }
            }
            catch (OperationCanceledException) when (!http.RequestAborted.IsCancellationRequested)
            {
                // Timed out with nothing new: answer with the unchanged token.
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>The <c>timeout</c> parameter in milliseconds (0 when absent), capped at <see cref="MaxTimeout"/>.</summary>
    public static int TimeoutFrom(IQueryCollection query) => query["timeout"].ToString() is { Length: > 0 } t
        ? int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? Math.Min(ms, MaxTimeout)
            : throw new MatrixException(400, "M_INVALID_PARAM", "'timeout' must be a number of milliseconds.")
        : 0;

    public static async Task<SyncToken> CurrentTokenAsync(StreamPositionReader positions, TypingCache typing)
    {
        var safe = await positions.GetSafePositionsAsync();
        long At(string stream) => safe.GetValueOrDefault(stream);
        return new SyncToken(At(StreamNames.Events), At(StreamNames.AccountData), typing.Latest, At(StreamNames.Receipts), At(StreamNames.ToDevice),
            At(StreamNames.DeviceLists), At(StreamNames.Presence), At(StreamNames.PushRules));
    }
}
