using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.Storage.Sync;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>
/// <c>unsigned.transaction_id</c>: the spec gives it "if the client being given the event is the same one
/// which sent it", and Synapse does so wherever it serves events (sync, /messages, /event, /context), so a
/// client can match its local echo whichever way the event reaches it. "The same client" is the device
/// whose transaction it was.
/// </summary>
public sealed class OwnTransactionIds(SyncReader sync)
{
    public async Task AddAsync(AuthenticatedUser user, IEnumerable<JsonObject> events, CancellationToken cancellationToken = default)
    {
        var own = events.Where(e => e["sender"] is JsonValue s && s.TryGetValue<string>(out var sender) && sender == user.UserId &&
                                    e["event_id"] is JsonValue id && id.TryGetValue<string>(out _)).ToList();
        if (own.Count == 0) return;
        var keys = await sync.GetTransactionKeysAsync(user.UserId, user.DeviceId, own.Select(e => e["event_id"]!.GetValue<string>()).ToList(),
            cancellationToken);
        foreach (var e in own)
        {
            if (!keys.TryGetValue(e["event_id"]!.GetValue<string>(), out var key)) continue;
            var unsigned = e["unsigned"] as JsonObject ?? (JsonObject)(e["unsigned"] = new JsonObject());
            unsigned["transaction_id"] = key[(key.LastIndexOf('/') + 1)..];
        }
    }
}
