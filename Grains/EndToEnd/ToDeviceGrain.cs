using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Streams;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.EndToEnd;
using Orleans;
using Homeserver.Grains.Placement;

namespace Homeserver.Grains.EndToEnd;

/// <summary>Queues one sender's to-device messages for local devices and announces them on the to_device stream.</summary>
[WriterPlacement(StreamNames.ToDevice)]
public sealed class ToDeviceGrain(ToDeviceStore store, AccountStore accounts, StreamPublisher publisher, TimeProvider clock) : Grain, IToDeviceGrain
{
    public async Task SendAsync(string senderDeviceId, string transactionId, string eventType, JsonObject messages, CancellationToken cancellationToken)
    {
        var sender = this.GetPrimaryKeyString();
        var deliveries = new List<ToDeviceDelivery>();
        foreach (var (userId, byDevice) in messages)
        {
            if (byDevice is not JsonObject devices) continue;
            // Messages for other servers wait for federation; unknown local users and devices are dropped, as the spec allows.
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
        var position = await store.EnqueueAsync(sender, senderDeviceId, transactionId, clock.GetUtcNow().ToUnixTimeMilliseconds(), deliveries,
            publisher.Writer(StreamNames.ToDevice));
        if (position is null) return;
        foreach (var user in deliveries.Select(d => d.UserId).Distinct(StringComparer.Ordinal))
        {
            await publisher.PublishAsync(StreamNames.ToDevice, user, position.Value);
        }
    }
}
