using Microsoft.Extensions.Logging;

namespace Homeserver.Grains.Hosting;

public sealed partial class GrainsLog(ILogger<GrainsLog> logger)
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Publishing event {EventId} on the events stream failed; subscribers will catch up from the database")]
    public partial void EventPublishFailed(Exception exception, string eventId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Room {RoomId}: persisting the events writer position failed; the periodic persister will catch up")]
    public partial void PositionPersistFailed(Exception exception, string roomId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Room {RoomId}: publishing typing notifications failed")]
    public partial void TypingPublishFailed(Exception exception, string roomId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Publishing a {Stream} row for {UserId} failed; readers catch up from the database")]
    public partial void StreamPublishFailed(Exception exception, string stream, string userId);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Pushing notifications failed; trying again on the next tick")]
    public partial void PushingFailed(Exception exception);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "Push gateway for {UserId}'s pusher {AppId} failed; retrying in {Seconds} s")]
    public partial void PushRetrying(string userId, string appId, double seconds);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Warning, Message = "Push gateway {Gateway} answered {StatusCode} for {UserId}'s pusher {AppId}")]
    public partial void PushGatewayRefused(string gateway, int statusCode, string userId, string appId);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Push gateway {Gateway} could not be reached for {UserId}'s pusher {AppId}")]
    public partial void PushGatewayUnreachable(Exception exception, string gateway, string userId, string appId);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "Waking syncs about a {Stream} change for {Subject} failed; they see it at their next look")]
    public partial void SyncHintFailed(Exception exception, string stream, string subject);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Backfilled room {RoomId}: {Accepted} events placed in its history, {Rejected} rejected, {Waiting} left for lack of their auth events")]
    public partial void Backfilled(string roomId, int accepted, int rejected, int waiting);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "Room {RoomId} took the state at {PrevEvents} missing prev events: {Outliers} events kept as outliers, {Rejected} rejected")]
    public partial void GapStateTaken(string roomId, int prevEvents, int outliers, int rejected);
}
