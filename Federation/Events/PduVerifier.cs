using System.Text.Json.Nodes;
using Homeserver.Federation.Keys;
using Homeserver.Protocol;

namespace Homeserver.Federation.Events;

/// <summary>A received PDU that passed the checks before authorization: its ID, and the event as the room will hold it (redacted if its content hash failed).</summary>
public sealed record VerifiedPdu(string EventId, JsonObject Pdu, bool Redacted);

/// <summary>
/// The checks on a received PDU that need no room state (server-server-api "Checks performed on receipt
/// of a PDU", 1 and 2): format for the room version, then the signatures of every server that must have
/// signed it, each with a key valid when the event was sent (room versions 5+; any key it ever had
/// before), then the content hash, whose failure redacts the event rather than refusing it.
/// </summary>
public sealed class PduVerifier(KeyRing keys)
{
    /// <summary>The verified event, or why it is refused.</summary>
    public async Task<(VerifiedPdu? Pdu, string? Refusal)> VerifyAsync(JsonObject received, RoomVersion version, CancellationToken cancellationToken)
    {
        var pdu = received.DeepClone().AsObject();
        // Spec: unsigned data from another server is not trusted; it is not covered by hashes or signatures.
        pdu.Remove("unsigned");
        if (PduFormat.Problem(pdu, version) is { } problem) return (null, problem);
        var eventId = PduFormat.EventIdOf(pdu, version);
        var validAt = version.Number >= 5 ? pdu["origin_server_ts"]!.GetValue<long>() : 0;
        foreach (var server in PduFormat.SigningServers(pdu, version))
        {
            if (pdu["signatures"]?[server] is not JsonObject signatures || signatures.Count == 0) return (null, $"the event is not signed by {server}");
            var verified = false;
            foreach (var (keyId, _) in signatures)
            {
                if (!keyId.StartsWith("ed25519:", StringComparison.Ordinal)) continue;
                if (await keys.GetVerifyKeyAsync(server, keyId, validAt, cancellationToken) is not { } key) continue;
                if (!EventSigning.VerifyEvent(pdu, version, server, keyId, key.PublicKey)) return (null, $"the signature of {server} with {keyId} does not verify");
                verified = true;
                break;
            }
            if (!verified) return (null, $"no key of {server} that signed the event could be found valid when it was sent");
        }
        if (ContentHash.Compute(pdu) != pdu["hashes"]!["sha256"]!.GetValue<string>())
        {
            return (new VerifiedPdu(eventId, Redaction.Redact(pdu, version), Redacted: true), null);
        }
        return (new VerifiedPdu(eventId, pdu, Redacted: false), null);
    }
}
