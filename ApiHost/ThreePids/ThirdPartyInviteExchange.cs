using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Orleans;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// Turns a third-party invite into an invite once the address is bound to a user (server-server-api
/// "Third-party invites", <c>/3pid/onbind</c>; Synapse's exchange_third_party_invite): the member event
/// is sent as the user who made the third-party invite, carrying the identity server's signed block
/// and the display name the invite showed. Before it is sent, the key that signed the block is checked
/// against its <c>key_validity_url</c>, so a revoked identity-server key redeems nothing.
/// </summary>
public sealed class ThirdPartyInviteExchange(IdentityServerClient identityServers, RoomReader rooms, IGrainFactory grains,
    ProcessSettings settings)
{
    /// <summary>Far more than one address ever has pending; a longer list is refused before any work.</summary>
    public const int MaxInvites = 100;

    public sealed record PendingInvite(string RoomId, string Sender, string Mxid, JsonObject Signed);

    /// <summary>The invites of an onbind body, checked as Synapse does (each needs a signed block with a token) and bounded.</summary>
    public static IReadOnlyList<PendingInvite> Parse(JsonObject body)
    {
        _ = body.RequiredString("medium");
        _ = body.RequiredString("address");
        _ = RoomPaths.UserIdFrom(body.RequiredString("mxid"), "mxid");
        if (body["invites"] is not JsonArray invites) throw new MatrixException(400, "M_BAD_JSON", "'invites' must be a list.");
        if (invites.Count > MaxInvites) throw new MatrixException(400, "M_INVALID_PARAM", $"At most {MaxInvites} invites at once.");
        return invites.Select(item =>
        {
            if (item is not JsonObject invite) throw new MatrixException(400, "M_BAD_JSON", "Each invite must be an object.");
            if (invite.OptionalObject("signed") is not { } signed || signed.OptionalString("token") is null)
            {
                throw new MatrixException(400, "M_BAD_JSON", "An invite without a signed token cannot be redeemed.");
            }
            return new PendingInvite(RoomPaths.RoomIdFrom(invite.RequiredString("room_id")), RoomPaths.UserIdFrom(invite.RequiredString("sender"), "sender"),
                RoomPaths.UserIdFrom(invite.RequiredString("mxid"), "mxid"), signed);
        }).ToList();
    }

    /// <summary>Every invite is tried; as in Synapse, the last failure is the answer when any failed.</summary>
    public async Task ExchangeAllAsync(IReadOnlyList<PendingInvite> invites, CancellationToken cancellationToken)
    {
        MatrixException? last = null;
        foreach (var invite in invites)
        {
            try
            {
                await ExchangeAsync(invite, cancellationToken);
            }
            catch (MatrixException e)
            {
                last = e;
            }
        }
        if (last is not null) throw last;
    }

    private async Task ExchangeAsync(PendingInvite invite, CancellationToken cancellationToken)
    {
        if (UserId.Parse(invite.Mxid).Server.ToString() != settings.ServerName)
        {
            throw new MatrixException(400, "M_INVALID_PARAM", $"{invite.Mxid} is not a user of this server.");
        }
        if (await rooms.GetRoomVersionAsync(invite.RoomId, cancellationToken) is null || UserId.Parse(invite.Sender).Server.ToString() != settings.ServerName)
        {
            // Synapse forwards these to the room's servers (exchange_third_party_invite), which needs federation.
            throw new MatrixException(400, "M_UNKNOWN", "The room is not on this server; the invite must be exchanged through the room's server.");
        }
        var token = invite.Signed.RequiredString("token");
        var thirdPartyInvite = (await rooms.GetCurrentStateAsync(invite.RoomId, "m.room.third_party_invite", token, cancellationToken)).FirstOrDefault() is { } row
            ? StoredJson.Parse(row.Json)?["content"] as JsonObject
            : null;
        var content = new JsonObject
        {
            ["membership"] = "invite",
            ["third_party_invite"] = new JsonObject { ["signed"] = invite.Signed.DeepClone() },
        };
        if (thirdPartyInvite is not null)
        {
            if (Text(thirdPartyInvite["display_name"]) is { } displayName) content["third_party_invite"]!["display_name"] = displayName;
            await RequireUnrevokedSignatureAsync(thirdPartyInvite, invite.Signed, cancellationToken);
        }
        // With no third-party invite of that token, the auth rules refuse the event (rule 6.4.1.5) with their reason.
        await grains.GetGrain<IRoomGrain>(invite.RoomId).SendEventAsync(
            new SendEventCommand(invite.Sender, "m.room.member", invite.Mxid, content, null), cancellationToken);
    }

    /// <summary>
    /// Synapse's check: a key of the invite that verifies the signed block, and whose <c>key_validity_url</c>
    /// (when it has one) still says it is valid. 403 when no key qualifies; 502 when the check cannot be made.
    /// </summary>
    private async Task RequireUnrevokedSignatureAsync(JsonObject thirdPartyInvite, JsonObject signed, CancellationToken cancellationToken)
    {
        foreach (var (publicKey, validityUrl) in ThirdPartyInviteKeys.PublishedBy(thirdPartyInvite))
        {
            if (!ThirdPartyInviteKeys.Signs(signed, publicKey)) continue;
            if (validityUrl is null) return;
            var answer = await identityServers.GetPublishedUrlAsync(validityUrl, "public_key=" + Uri.EscapeDataString(publicKey), cancellationToken);
            if (answer.Ok && answer.Body["valid"] is JsonValue valid && valid.TryGetValue<bool>(out var isValid) && isValid) return;
            throw MatrixException.Forbidden("Third party certificate was invalid.");
        }
        throw MatrixException.Forbidden("Third party certificate was invalid.");
    }

    /// <summary>A string of stored content, which anyone who could send the event shaped: anything else counts as absent.</summary>
    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
