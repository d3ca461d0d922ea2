using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Receipts;
using Homeserver.Grains.Streams;
using Homeserver.Storage.Receipts;
using Homeserver.Storage.Rooms;
using Orleans;
using Homeserver.Grains.Placement;
using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces.Federation;

namespace Homeserver.Grains.Receipts;

[WriterPlacement(StreamNames.Receipts)]
public sealed class ReceiptGrain(ReceiptStore receipts, RoomReader rooms, StreamPublisher publisher, RoomEduFanOut federation, ProcessSettings settings,
    TimeProvider clock) : Grain, IReceiptGrain
{
    public async Task SendReceiptAsync(string roomId, string receiptType, string eventId, string? threadId, CancellationToken cancellationToken)
    {
        var userId = this.GetPrimaryKeyString();
        if (await rooms.GetMembershipAsync(roomId, userId) != "join") throw MatrixException.Forbidden("You are not joined to this room.");
        var target = await rooms.GetEventAsync(eventId);
        if (target is null || target.RoomId != roomId) throw MatrixException.NotFound("No such event in this room.");
        var ts = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var position = await StoreAsync(new ReceiptRow(roomId, receiptType, userId, threadId, eventId, ts), target.StreamOrdering);
        // Private receipts stay on this server; public ones of our users go to the room's other servers.
        if (position is not null && receiptType == "m.read" && FederationDestinations.IsOurs(userId, settings.ServerName))
        {
            var data = new JsonObject { ["ts"] = ts };
            if (threadId is not null) data["thread_id"] = threadId;
            await federation.SendAsync(roomId, userId, new Edu("m.receipt", new JsonObject
            {
                [roomId] = new JsonObject
                {
                    [receiptType] = new JsonObject { [userId] = new JsonObject { ["event_ids"] = new JsonArray(eventId), ["data"] = data } },
                },
            }), CancellationToken.None);
        }
    }

    public async Task ReceiveRemoteReceiptAsync(string roomId, IReadOnlyList<string> eventIds, string? threadId, long ts, CancellationToken cancellationToken)
    {
        var userId = this.GetPrimaryKeyString();
        if (await rooms.GetMembershipAsync(roomId, userId) != "join") return;
        RoomEventRow? latest = null;
        foreach (var eventId in eventIds.Distinct().Take(MaxRemoteReceiptEvents))
        {
            if (await rooms.GetEventAsync(eventId) is { } row && row.RoomId == roomId && (latest is null || row.StreamOrdering > latest.StreamOrdering)) latest = row;
        }
        if (latest is null) return;
        await StoreAsync(new ReceiptRow(roomId, "m.read", userId, threadId, latest.EventId, ts), latest.StreamOrdering);
    }

    /// <summary>Stores the receipt unless it would move backwards, and announces it to the room; its position, or null when unchanged.</summary>
    private async Task<long?> StoreAsync(ReceiptRow receipt, long eventStreamOrdering)
    {
        var position = await receipts.SetAsync(receipt, eventStreamOrdering, publisher.Writer(StreamNames.Receipts));
        if (position is { } p) await publisher.PublishToRoomAsync(StreamNames.Receipts, receipt.UserId, receipt.RoomId, p);
        return position;
    }

    /// <summary>Events one remote receipt may name that are looked up.</summary>
    private const int MaxRemoteReceiptEvents = 10;
}
