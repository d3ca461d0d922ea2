using Homeserver.Protocol;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Sync;
using Homeserver.Grains.Interfaces;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// /sync and filters. A sync token (<see cref="SyncToken"/>) holds each stream's safe position
/// (every writer has committed below it), so a row committed out of order by another writer can
/// never fall behind a token already handed out: incremental syncs neither skip nor repeat.
/// </summary>
public static class SyncEndpoints
{
    private const int MaxTimeout = 60_000;
    private static readonly TimeSpan FirstLookAgain = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan LastLookAgain = TimeSpan.FromSeconds(1);

    public static IEndpointRouteBuilder MapSyncApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/sync", SyncAsync);
            app.MapPost($"/_matrix/client/{version}/user/{{userId}}/filter", CreateFilterAsync);
            app.MapGet($"/_matrix/client/{version}/user/{{userId}}/filter/{{filterId}}", GetFilterAsync);
        }
        return app;
    }

    private static async Task<IResult> SyncAsync(HttpContext http, AccessTokenAuthentication auth, SyncReader sync, StreamPositionReader positions,
        SyncNotifier notifier, SyncResponseBuilder builder, TypingCache typing, PresenceOnSync presence, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var query = http.Request.Query;
        SyncToken? since = query["since"].ToString() is { Length: > 0 } s ? SyncToken.Parse(s) : null;
        var timeout = query["timeout"].ToString() is { Length: > 0 } t
            ? int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? Math.Min(ms, MaxTimeout)
                : throw new MatrixException(400, "M_INVALID_PARAM", "'timeout' must be a number of milliseconds.")
            : 0;
        var fullState = query["full_state"].ToString() == "true";
        var setPresence = query["set_presence"].ToString() is { Length: > 0 } p ? p : "online";
        if (!PresenceEndpoints.States.Contains(setPresence)) throw new MatrixException(400, "M_INVALID_PARAM", "'set_presence' must be online, unavailable or offline.");
        var filter = new SyncFilter(await ResolveFilterAsync(sync, user.UserId, query["filter"].ToString()));
        await presence.SyncedAsync(user.UserId, setPresence);

        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(timeout), clock);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadline.Token);
        using var listener = await notifier.ListenAsync(user.UserId, http.RequestAborted);
        var lookAgainIn = FirstLookAgain;
        while (true)
        {
            var wake = listener.NextChangeAsync(cancel.Token);
            var readAt = listener.NextRead();
            var upTo = await CurrentTokenAsync(positions, typing);
            var response = await builder.BuildAsync(user, since, upTo, filter, fullState);
            await listener.FollowRoomsAsync(response.JoinedRoomIds, readAt, http.RequestAborted);
            var hasNews = since is null || fullState || response.HasChanges;
            notifier.Built(answered: hasNews || cancel.IsCancellationRequested, hasNews);
            if (hasNews || cancel.IsCancellationRequested) return Results.Json(response.Body);
            try
            {
                // Positions are persisted just before a row is announced, but a reader can still look in between: if so, look
                // again soon, and less often the longer it lasts (a writer that died mid-write holds its stream back for a while).
                if (listener.IsAheadOf(upTo, filter.UnseenStreams))
                {
                    await Task.Delay(lookAgainIn, clock, cancel.Token);
                    lookAgainIn = TimeSpan.FromTicks(Math.Min(lookAgainIn.Ticks * 2, LastLookAgain.Ticks));
                }
                else
                {
                    lookAgainIn = FirstLookAgain;
                    await wake;
                    // Woken by nothing this answer lacks (rows it already holds, or rows the filter never shows):
                    // wait on without rebuilding. The next wake is taken before the check, so a row announced in
                    // between still wakes it.
                    while (true)
                    {
                        wake = listener.NextChangeAsync(cancel.Token);
                        if (!listener.NothingNewBeyond(upTo, filter.UnseenStreams)) break;
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
                // The client went away: nobody reads an answer.
                return Results.Empty;
            }
        }
    }

    private static async Task<SyncToken> CurrentTokenAsync(StreamPositionReader positions, TypingCache typing)
    {
        var safe = await positions.GetSafePositionsAsync();
        long At(string stream) => safe.GetValueOrDefault(stream);
        return new SyncToken(At(StreamNames.Events), At(StreamNames.AccountData), typing.Latest, At(StreamNames.Receipts), At(StreamNames.ToDevice),
            At(StreamNames.DeviceLists), At(StreamNames.Presence), At(StreamNames.PushRules));
    }

    private static async Task<JsonObject?> ResolveFilterAsync(SyncReader sync, string userId, string filter)
    {
        if (filter.Length == 0) return null;
        if (filter.StartsWith('{'))
        {
            var inline = JsonBody.ParseParameter(filter, "filter") as JsonObject
                ?? throw new MatrixException(400, "M_INVALID_PARAM", "'filter' must be a JSON object.");
            FilterDefinition.Validate(inline);
            return inline;
        }
        if (!long.TryParse(filter, NumberStyles.None, CultureInfo.InvariantCulture, out var id)) throw new MatrixException(400, "M_INVALID_PARAM", "Unknown filter.");
        var json = await sync.GetFilterAsync(userId, id) ?? throw new MatrixException(400, "M_INVALID_PARAM", "Unknown filter.");
        return StoredJson.Parse(json) as JsonObject;
    }

    private static async Task<IResult> CreateFilterAsync(HttpContext http, string userId, AccessTokenAuthentication auth, SyncReader sync)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only create filters for yourself.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        FilterDefinition.Validate(body);
        var id = await sync.SaveFilterAsync(user.UserId, body.ToJsonString());
        return Results.Json(new { filter_id = id.ToString(CultureInfo.InvariantCulture) });
    }

    private static async Task<IResult> GetFilterAsync(HttpContext http, string userId, string filterId, AccessTokenAuthentication auth, SyncReader sync)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only read your own filters.");
        var json = long.TryParse(filterId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? await sync.GetFilterAsync(user.UserId, id) : null;
        return json is null ? throw MatrixException.NotFound("No such filter.") : Results.Text(json, "application/json");
    }
}
