using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Keys;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// Another server invites one of our users (server-server-api "Inviting to a room", <c>PUT /invite</c>):
/// the invite must be an m.room.member invite of a user here, sent by a user of the calling server,
/// correctly signed; this server signs it too and the room grain keeps it, with the stripped state it came
/// with. v2 carries the room version and the stripped state beside the event and answers <c>{event}</c>;
/// v1 (room versions 1 and 2) carries them in the event's <c>unsigned</c> and answers <c>[200, {event}]</c>.
/// </summary>
public static class InviteFederationEndpoints
{
    /// <summary>Stripped state events kept with one invite; more are dropped.</summary>
    public const int MaxInviteRoomState = 50;

    public static IEndpointRouteBuilder MapInviteFederationApi(this IEndpointRouteBuilder app)
    {
        app.MapPut("/_matrix/federation/v2/invite/{roomId}/{eventId}", (HttpContext h, string roomId, string eventId, FederationOrigin o,
            PduVerifier v, ServerSigningKeys k, AccountStore a, RoomReader r, IGrainFactory g, ProcessSettings s) =>
            InviteAsync(h, roomId, eventId, o, v, k, a, r, g, s, legacy: false));
        app.MapPut("/_matrix/federation/v1/invite/{roomId}/{eventId}", (HttpContext h, string roomId, string eventId, FederationOrigin o,
            PduVerifier v, ServerSigningKeys k, AccountStore a, RoomReader r, IGrainFactory g, ProcessSettings s) =>
            InviteAsync(h, roomId, eventId, o, v, k, a, r, g, s, legacy: true));
        return app;
    }

    private static async Task<IResult> InviteAsync(HttpContext http, string roomId, string eventId, FederationOrigin origin, PduVerifier verifier,
        ServerSigningKeys keys, AccountStore accounts, RoomReader rooms, IGrainFactory grains, ProcessSettings settings, bool legacy)
    {
        if (!RoomId.TryParse(roomId, out _)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{roomId}' is not a room ID.");
        await RoomServerAcl.RequireAllowedAsync(rooms, roomId, origin.ServerName, http.RequestAborted);
        var body = await JsonBody.ReadObjectAsync(http.Request, maxBytes: XMatrixAuthenticationMiddleware.MaxBodyBytes);
        JsonObject received;
        string versionId;
        JsonNode? strippedState;
        if (legacy)
        {
            received = body;
            versionId = await rooms.GetRoomVersionAsync(roomId, http.RequestAborted) ?? "1";
            strippedState = body["unsigned"]?["invite_room_state"];
        }
        else
        {
            received = body["event"] as JsonObject ?? throw MatrixException.BadJson("'event' must be the invite event.");
            versionId = body.OptionalString("room_version") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'room_version' is missing.");
            strippedState = body["invite_room_state"];
        }
        if (!RoomVersions.TryGet(versionId, out var version))
        {
            throw new MatrixException(400, "M_INCOMPATIBLE_ROOM_VERSION", $"Room version {versionId} is not supported here.");
        }

        var (verified, refusal) = await verifier.VerifyAsync(received, version, http.RequestAborted);
        if (verified is null) throw MatrixException.BadJson($"The invite is not acceptable: {refusal}.");
        if (verified.Redacted) throw MatrixException.BadJson("The invite's content hash does not match its content.");
        if (verified.EventId != eventId) throw MatrixException.BadJson("The event ID in the path is not the event's.");
        var pdu = verified.Pdu;
        if (Text(pdu["room_id"]) != roomId) throw MatrixException.BadJson("The event is of another room.");
        if (Text(pdu["type"]) != "m.room.member" || Text(pdu["content"]?["membership"]) != "invite") throw MatrixException.BadJson("The event is not an invite.");
        if (!UserId.TryParse(Text(pdu["sender"]), out var sender) || sender.Server.ToString() != origin.ServerName)
        {
            throw MatrixException.Forbidden("A server may only send invites of its own users.");
        }
        if (!UserId.TryParse(Text(pdu["state_key"]), out var invitee) || invitee.Server.ToString() != settings.ServerName)
        {
            throw MatrixException.Forbidden("The invitee is not a user of this server.");
        }
        if (await accounts.FindUserAsync(invitee.ToString(), http.RequestAborted) is not { Deactivated: false })
        {
            throw MatrixException.NotFound($"{invitee} is not a user here.");
        }

        EventSigning.SignEvent(pdu, version, settings.ServerName, await keys.CurrentAsync(http.RequestAborted));
        await grains.GetGrain<IRoomGrain>(roomId).ReceiveInviteAsync(
            new RemoteInvite(version.Id, new ReceivedPdu(eventId, pdu), StrippedState(strippedState).ToJsonString()), http.RequestAborted);
        var answer = new JsonObject { ["event"] = pdu.DeepClone() };
        return legacy ? Results.Json(new JsonArray(200, answer)) : Results.Json(answer);
    }

    /// <summary>The stripped state events as kept: type, state_key, sender and content of each well-formed one.</summary>
    private static JsonArray StrippedState(JsonNode? given)
    {
        var kept = new JsonArray();
        foreach (var node in given as JsonArray ?? [])
        {
            if (kept.Count >= MaxInviteRoomState) break;
            if (node is not JsonObject e || Text(e["type"]) is not { } type || Text(e["state_key"]) is not { } stateKey || e["content"] is not JsonObject content) continue;
            kept.Add(new JsonObject
            {
                ["type"] = type,
                ["state_key"] = stateKey,
                ["sender"] = Text(e["sender"]),
                ["content"] = content.DeepClone(),
            });
        }
        return kept;
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
