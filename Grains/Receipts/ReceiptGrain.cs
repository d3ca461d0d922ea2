using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Receipts;
using Homeserver.Grains.Streams;
using Homeserver.Storage.Receipts;
using Homeserver.Storage.Rooms;
using Orleans;
using Homeserver.Grains.Placement;

namespace Homeserver.Grains.Receipts;

[WriterPlacement(StreamNames.Receipts)]
public sealed class ReceiptGrain(ReceiptStore receipts, RoomReader rooms, StreamPublisher publisher, TimeProvider clock) : Grain, IReceiptGrain
{
    public async Task SendReceiptAsync(string roomId, string receiptType, string eventId, string? threadId, CancellationToken cancellationToken)
    {
        var userId = this.GetPrimaryKeyString();
        if (await rooms.GetMembershipAsync(roomId, userId) != "join") throw MatrixException.Forbidden("You are not joined to this room.");
        var target = await rooms.GetEventAsync(eventId);
        if (target is null || target.RoomId != roomId) throw MatrixException.NotFound("No such event in this room.");
        var position = await receipts.SetAsync(
            new ReceiptRow(roomId, receiptType, userId, threadId, eventId, clock.GetUtcNow().ToUnixTimeMilliseconds()),
            target.StreamOrdering, publisher.Writer(StreamNames.Receipts));
        if (position is { } p) await publisher.PublishToRoomAsync(StreamNames.Receipts, userId, roomId, p);
    }
}
