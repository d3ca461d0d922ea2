using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Streams;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.EndToEnd;
using Orleans;
using Homeserver.Grains.Placement;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces.Federation;

namespace Homeserver.Grains.EndToEnd;

/// <summary>
/// Queues one sender's to-device messages for local devices and announces them on the to_device stream;
/// those for users of other servers go to each server as one <c>m.direct_to_device</c> EDU per request,
/// stored in the same PostgreSQL transaction (<c>device_federation_outbox</c>) until that server has it.
/// The transaction ID is stored first, so a retried request sends nothing twice.
/// </summary>
[WriterPlacement(StreamNames.ToDevice)]
public sealed class ToDeviceGrain(ToDeviceStore store, AccountStore accounts, StreamPublisher publisher, OutboxWakeUp senders, ProcessSettings settings,
    TimeProvider clock) : Grain, IToDeviceGrain
{
    public async Task SendAsync(string senderDeviceId, string transactionId, string eventType, JsonObject messages, CancellationToken cancellationToken)
    {
        var sender = this.GetPrimaryKeyString();
        var deliveries = new List<ToDeviceDelivery>();
        var remote = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (userId, byDevice) in messages)
        {
            if (byDevice is not JsonObject devices) continue;
            if (FederationDestinations.ServerOf(userId) is var server && server != settings.ServerName)
            {
                if (!remote.TryGetValue(server, out var forServer)) remote[server] = forServer = new JsonObject();
                forServer[userId] = devices.DeepClone();
                continue;
            }
            // Unknown local users and devices are dropped, as the spec allows.
            var known = (await accounts.GetDevicesAsync(userId)).Select(d => d.DeviceId).ToHashSet(StringComparer.Ordinal);
            foreach (var (deviceId, content) in devices)
            {
                var targets = deviceId == "*" ? known : known.Contains(deviceId) ? [deviceId] : [];
                foreach (var target in targets)
                {
                    var message = new JsonObject { ["sender"] = sender, ["type"] = eventType, ["content"] = content?.DeepClone() ?? new JsonObject() };
                    deliveries.Add(new ToDeviceDelivery(userId, target, message.ToJsonString()));
                }
            }
        }
        var outbound = remote.Select(r => new RemoteToDeviceEdu(r.Key, new JsonObject
        {
            ["sender"] = sender,
            ["type"] = eventType,
            // Stored with the EDU, so every resend carries the same one and the receiver delivers it once.
            ["message_id"] = Guid.NewGuid().ToString("N"),
            ["messages"] = r.Value,
        }.ToJsonString())).ToList();
        var position = await store.EnqueueAsync(sender, senderDeviceId, transactionId, clock.GetUtcNow().ToUnixTimeMilliseconds(), deliveries,
            outbound, publisher.Writer(StreamNames.ToDevice));
        if (position is null) return;
        foreach (var user in deliveries.Select(d => d.UserId).Distinct(StringComparer.Ordinal))
        {
            await publisher.PublishAsync(StreamNames.ToDevice, user, position.Value);
        }
        foreach (var server in remote.Keys) await senders.WakeAsync(server);
    }
}
