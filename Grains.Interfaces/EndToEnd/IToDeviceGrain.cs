using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.EndToEnd;

/// <summary>Sends one user's to-device messages (key: sender user ID), on the <c>to_device</c> writers.</summary>
[Alias("IToDeviceGrain")]
public interface IToDeviceGrain : IGrainWithStringKey
{
    /// <summary>
    /// Queues <paramref name="messages"/> ({user: {device or "*": content}}) for local devices, once per
    /// (device, transaction ID) while this activation lives.
    /// </summary>
    Task SendAsync(string senderDeviceId, string transactionId, string eventType, JsonObject messages, CancellationToken cancellationToken = default);
}
