using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Presence;
using Homeserver.Grains.Interfaces.Receipts;
using Homeserver.Grains.Interfaces.Typing;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Orleans;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The EDUs of a received transaction (server-server-api "EDUs"). An EDU gets no answer, so one that is
/// malformed, speaks for a user of another server, or concerns a room its user is not joined to is dropped
/// without a word, as in Synapse. Typing, receipts, presence, to-device messages and device-list and signing-key updates are taken; the other types are dropped.
/// </summary>
public sealed class InboundEdus(RoomReader rooms, IGrainFactory grains, ProcessSettings settings, TimeProvider clock)
{
    /// <summary>Receipts one EDU may carry that are looked at; the rest are dropped.</summary>
    public const int MaxReceiptsPerEdu = 100;

    /// <summary>How long a remote user shows as typing without a refresh (Synapse's federation typing timeout).</summary>
    public const int RemoteTypingTimeoutMs = 60_000;

    public async Task HandleAsync(string origin, JsonArray edus, CancellationToken cancellationToken)
    {
        foreach (var node in edus)
        {
            if (node is not JsonObject edu || edu["content"] is not JsonObject content) continue;
            switch (Text(edu["edu_type"]))
            {
                case "m.typing":
                    await TypingAsync(origin, content, cancellationToken);
                    break;
                case "m.receipt":
                    await ReceiptsAsync(origin, content, cancellationToken);
                    break;
                case "m.direct_to_device":
                    await ToDeviceAsync(origin, content, cancellationToken);
                    break;
                case "m.presence":
                    await PresenceAsync(origin, content, cancellationToken);
                    break;
                case "m.device_list_update":
                    await DeviceListUpdateAsync(origin, content, cancellationToken);
                    break;
                case "m.signing_key_update":
                    await DeviceListChangedAsync(origin, content, cancellationToken);
                    break;
            }
        }
    }

    private async Task TypingAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        if (Text(content["room_id"]) is not { } roomId || !RoomId.TryParse(roomId, out _)) return;
        if (Text(content["user_id"]) is not { } userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != origin) return;
        if (content["typing"] is not JsonValue value || !value.TryGetValue<bool>(out var typing)) return;
        if (await rooms.GetMembershipAsync(roomId, userId) != "join" || !await RoomServerAcl.AllowsAsync(rooms, roomId, origin, cancellationToken)) return;
        await grains.GetGrain<ITypingGrain>(roomId).SetTypingAsync(userId, typing, RemoteTypingTimeoutMs, cancellationToken);
    }

    /// <summary>
    /// <c>m.receipt</c>: room ID to receipt type to user to <c>{event_ids, data: {ts, thread_id}}</c>. Only public
    /// read receipts of the origin's users are taken, at most <see cref="MaxReceiptsPerEdu"/> per EDU.
    /// </summary>
    private async Task ReceiptsAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        var taken = 0;
        foreach (var (roomId, byType) in content)
        {
            if (!RoomId.TryParse(roomId, out _) || byType?["m.read"] is not JsonObject byUser) continue;
            if (!await RoomServerAcl.AllowsAsync(rooms, roomId, origin, cancellationToken)) continue;
            foreach (var (userId, receipt) in byUser)
            {
                if (taken++ >= MaxReceiptsPerEdu) return;
                if (!UserId.TryParse(userId, out var user) || user.Server.ToString() != origin) continue;
                if (receipt?["event_ids"] is not JsonArray ids) continue;
                var eventIds = ids.Select(Text).OfType<string>().ToList();
                if (eventIds.Count == 0) continue;
                var data = receipt["data"] as JsonObject;
                var ts = data?["ts"] is JsonValue t && t.TryGetValue<long>(out var at) ? at : clock.GetUtcNow().ToUnixTimeMilliseconds();
                var threadId = Text(data?["thread_id"]);
                await grains.GetGrain<IReceiptGrain>(userId).ReceiveRemoteReceiptAsync(roomId, eventIds, threadId, ts, cancellationToken);
            }
        }
    }

    /// <summary>
    /// <c>m.direct_to_device</c>: a sender of the origin, an event type, a message ID, and messages by user and device
    /// (or <c>*</c>). Only this server's users are served; the message ID is the sender's transaction here, so a
    /// repeated EDU is delivered once.
    /// </summary>
    private async Task ToDeviceAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        if (Text(content["sender"]) is not { } sender || !UserId.TryParse(sender, out var from) || from.Server.ToString() != origin) return;
        if (Text(content["type"]) is not { } type || Text(content["message_id"]) is not { } messageId || content["messages"] is not JsonObject messages) return;
        var local = new JsonObject();
        foreach (var (userId, devices) in messages)
        {
            if (UserId.TryParse(userId, out var user) && user.Server.ToString() == settings.ServerName && devices is JsonObject byDevice &&
                byDevice.All(d => d.Value is JsonObject))
            {
                local[userId] = byDevice.DeepClone();
            }
        }
        if (local.Count == 0) return;
        await grains.GetGrain<IToDeviceGrain>(sender).SendAsync(origin, messageId, type, local, cancellationToken);
    }

    /// <summary>prev_ids one device-list update may name; an update naming more is dropped.</summary>
    public const int MaxPrevIds = 100;

    /// <summary>
    /// <c>m.device_list_update</c>: a user of the origin changed a device. Their cached list (kept for users sharing
    /// a room with ours) takes it in sequence, or is fetched again when its prev_id shows a gap; either way our users'
    /// syncs report the change.
    /// </summary>
    private async Task DeviceListUpdateAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        if (Text(content["user_id"]) is not { } userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != origin) return;
        if (Text(content["device_id"]) is not { } deviceId || content["stream_id"] is not JsonValue s || !s.TryGetValue<long>(out var streamId)) return;
        var prevIds = new List<long>();
        switch (content["prev_id"])
        {
            case null:
                break;
            case JsonArray { Count: <= MaxPrevIds } given:
                foreach (var prev in given)
                {
                    if (prev is not JsonValue p || !p.TryGetValue<long>(out var id)) return;
                    prevIds.Add(id);
                }
                break;
            default:
                return;
        }
        var deleted = content["deleted"] is JsonValue d && d.TryGetValue<bool>(out var isDeleted) && isDeleted;
        if ((await rooms.GetServersSharingRoomsWithAsync(userId, cancellationToken)).Count == 0) return;
        // The fields of the spec's device, nothing else the peer put in.
        var device = new JsonObject { ["device_id"] = deviceId };
        if (content["keys"] is JsonObject keys) device["keys"] = keys.DeepClone();
        if (Text(content["device_display_name"]) is { } displayName) device["device_display_name"] = displayName;
        await grains.GetGrain<IRemoteDeviceListGrain>(userId).UpdateAsync([new RemoteDeviceListUpdate(deviceId, streamId, prevIds, deleted, device)],
            cancellationToken);
    }

    /// <summary>
    /// <c>m.signing_key_update</c>: a user of the origin changed a cross-signing key. It is recorded as a change of
    /// their device list, which the syncs of our users sharing a room with them report (key queries go to their server).
    /// </summary>
    private async Task DeviceListChangedAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        if (Text(content["user_id"]) is not { } userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != origin) return;
        if ((await rooms.GetServersSharingRoomsWithAsync(userId, cancellationToken)).Count == 0) return;
        await grains.GetGrain<IEndToEndKeysGrain>(userId).DeviceListChangedAsync(cancellationToken);
    }

    /// <summary>Presence updates one EDU may carry that are looked at.</summary>
    public const int MaxPresencePerEdu = 100;

    /// <summary><c>m.presence</c>: <c>push</c>, a list of the origin's users' presence; kept for users sharing a room with ours.</summary>
    private async Task PresenceAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        foreach (var node in (content["push"] as JsonArray ?? []).Take(MaxPresencePerEdu))
        {
            if (node is not JsonObject update || Text(update["user_id"]) is not { } userId || !UserId.TryParse(userId, out var user) ||
                user.Server.ToString() != origin) continue;
            if (Text(update["presence"]) is not ("online" or "unavailable" or "offline") || Text(update["presence"]) is not { } state) continue;
            var lastActiveAgo = update["last_active_ago"] is JsonValue a && a.TryGetValue<long>(out var ago) ? ago : 0;
            var active = update["currently_active"] is JsonValue c && c.TryGetValue<bool>(out var isActive) && isActive;
            if ((await rooms.GetServersSharingRoomsWithAsync(userId, cancellationToken)).Count == 0) continue;
            await grains.GetGrain<IPresenceGrain>(userId).SetRemotePresenceAsync(state, Text(update["status_msg"]), lastActiveAgo, active, cancellationToken);
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
