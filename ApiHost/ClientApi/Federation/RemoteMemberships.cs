using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Keys;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.Logging;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Federation;

/// <summary>
/// Memberships of local users that other servers must make or sign: invites of their users, and joins and
/// leaves of rooms this server is not in. A join goes through a server that is in the room (server-server-api
/// "Joining Rooms"): make_join to each candidate in turn until one gives a template, the join filled in
/// with the user's content, hashed and signed, then send_join (v2, v1 where v2 is unknown) to the same
/// server. Every event of the answer is checked as any received PDU (format, signatures, hashes) before
/// the room grain takes it. As Synapse does, a server that cannot be reached, answers with a server
/// error, or says it cannot make the join, gives way to the next; any other refusal goes to the client.
/// </summary>
public sealed partial class RemoteMemberships(IFederationClient client, PduVerifier verifier, ServerSigningKeys keys, KeyRing keyRing,
    IGrainFactory grains, RoomReader rooms, ProcessSettings settings, TimeProvider clock, ILogger<RemoteMemberships> logger)
{
    /// <summary>Candidate servers tried for one join, at most.</summary>
    public const int MaxServersTried = 10;

    /// <summary>The largest send_join answer taken: the state and auth chain of a large room, well past the transport's 10 MiB default.</summary>
    public const long MaxSendJoinAnswerBytes = 100L * 1024 * 1024;

    /// <summary>The servers worth asking: the ones the client or alias named, then the room ID's own, never this one.</summary>
    public IReadOnlyList<string> Candidates(string roomId, IEnumerable<string> named)
    {
        var servers = new List<string>();
        foreach (var name in named.Append(RoomId.TryParse(roomId, out var parsed) && parsed.Server is { } own ? own.ToString() : ""))
        {
            if (name.Length == 0 || name == settings.ServerName || !ServerName.TryParse(name, out _) || servers.Contains(name)) continue;
            servers.Add(name);
        }
        return servers;
    }

    /// <summary>Joins <paramref name="userId"/> to the room through the first of <paramref name="servers"/> that lets it; the join's event ID.</summary>
    public async Task<string> JoinAsync(string roomId, string userId, JsonObject content, IReadOnlyList<string> servers, CancellationToken cancellationToken)
    {
        if (servers.Count == 0) throw MatrixException.NotFound("No known servers to join the room through.");
        MatrixException? last = null;
        foreach (var server in servers.Take(MaxServersTried))
        {
            try
            {
                return await JoinThroughAsync(server, roomId, userId, content, cancellationToken);
            }
            catch (GiveWay e)
            {
                JoinAttemptFailed(server, roomId, e.Message);
                last = e.ForClient;
            }
        }
        throw last!;
    }

    private async Task<string> JoinThroughAsync(string server, string roomId, string userId, JsonObject content, CancellationToken cancellationToken)
    {
        var versions = string.Join("&", RoomVersions.All.Select(v => $"ver={Uri.EscapeDataString(v.Id)}"));
        var made = await SendAsync(new FederationRequest(HttpMethod.Get, server,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(userId)}?{versions}"), "make_join", cancellationToken);
        if (made.Body is not JsonObject madeBody || madeBody["event"] is not JsonObject template)
        {
            throw new GiveWay("make_join answered without an event", RemoteServerQueries.BadGateway("The server cannot make the join."));
        }
        var versionId = madeBody["room_version"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : "1";
        if (!RoomVersions.TryGet(versionId, out var version))
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"The room is of version {versionId}, which this server does not support.");
        }
        if (version.EventIdsAreServerScoped)
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Joins over federation to rooms of version {version.Id} are not supported here yet.");
        }

        var (joinId, join) = await SignedMembershipAsync(template, version, roomId, userId, content, "join", cancellationToken);
        var sent = await SendJoinAsync(server, roomId, joinId, join, cancellationToken);
        if (sent["event"] is JsonObject countersigned)
        {
            // A restricted join comes back signed by the server that authorised it too; it is the same event.
            var (checkedJoin, _) = await verifier.VerifyAsync(countersigned, version, cancellationToken);
            if (checkedJoin is { Redacted: false } && checkedJoin.EventId == joinId) join = checkedJoin.Pdu;
        }
        var state = await VerifiedAsync(sent["state"], version, "state", cancellationToken);
        var authChain = await VerifiedAsync(sent["auth_chain"], version, "auth_chain", cancellationToken);
        await grains.GetGrain<IRoomGrain>(roomId).CompleteRemoteJoinAsync(
            new RemoteRoomJoin(version.Id, new ReceivedPdu(joinId, join), state, authChain), cancellationToken);
        return joinId;
    }

    /// <summary>
    /// Leaves (or rejects the invite to) a room this server is not in, through the first of <paramref name="servers"/>
    /// that makes the leave. When none can, the invite is rejected here alone, as Synapse does: a leave signed by
    /// this server on the invite, which the room never sees, so the user is not stuck with it.
    /// </summary>
    public async Task LeaveAsync(string roomId, string userId, JsonObject content, IReadOnlyList<string> servers, CancellationToken cancellationToken)
    {
        foreach (var server in servers.Take(MaxServersTried))
        {
            try
            {
                var made = await SendAsync(new FederationRequest(HttpMethod.Get, server,
                    $"/_matrix/federation/v1/make_leave/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(userId)}"), "make_leave", cancellationToken);
                if (made.Body is not JsonObject madeBody || madeBody["event"] is not JsonObject template)
                {
                    throw new GiveWay("make_leave answered without an event", RemoteServerQueries.BadGateway("The server cannot make the leave."));
                }
                var versionId = madeBody["room_version"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : "1";
                if (!RoomVersions.TryGet(versionId, out var version) || version.EventIdsAreServerScoped)
                {
                    throw new GiveWay($"the room is of version {versionId}", RemoteServerQueries.BadGateway("The room's version is not supported here."));
                }
                var (leaveId, leave) = await SignedMembershipAsync(template, version, roomId, userId, content, "leave", cancellationToken);
                await SendMembershipAsync("send_leave", server, roomId, leaveId, leave, cancellationToken);
                await grains.GetGrain<IRoomGrain>(roomId).CompleteRemoteLeaveAsync(new ReceivedPdu(leaveId, leave), version.Id, cancellationToken);
                return;
            }
            catch (Exception e) when (e is GiveWay or MatrixException { StatusCode: >= 400 and < 500 })
            {
                LeaveAttemptFailed(server, roomId, e.Message);
            }
        }
        await RejectLocallyAsync(roomId, userId, content, cancellationToken);
    }

    /// <summary>
    /// Knocks on a room this server is not in (server-server-api "Knocking upon a room"): make_knock to each
    /// candidate until one makes it, the knock signed here, send_knock to the same server; the knock is kept
    /// as the user's membership with the stripped state the answer carries.
    /// </summary>
    public async Task KnockAsync(string roomId, string userId, JsonObject content, IReadOnlyList<string> servers, CancellationToken cancellationToken)
    {
        if (servers.Count == 0) throw MatrixException.NotFound("No known servers to knock through.");
        var versions = string.Join("&", RoomVersions.All.Where(v => v.KnockAllowed).Select(v => $"ver={Uri.EscapeDataString(v.Id)}"));
        MatrixException? last = null;
        foreach (var server in servers.Take(MaxServersTried))
        {
            try
            {
                var made = await SendAsync(new FederationRequest(HttpMethod.Get, server,
                    $"/_matrix/federation/v1/make_knock/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(userId)}?{versions}"), "make_knock", cancellationToken);
                if (made.Body is not JsonObject madeBody || madeBody["event"] is not JsonObject template ||
                    !RoomVersions.TryGet(madeBody["room_version"] is JsonValue v && v.TryGetValue<string>(out var id) ? id : null, out var version) ||
                    !version.KnockAllowed)
                {
                    throw new GiveWay("make_knock answered without a knock of a known version", RemoteServerQueries.BadGateway("The server cannot make the knock."));
                }
                var (knockId, knock) = await SignedMembershipAsync(template, version, roomId, userId, content, "knock", cancellationToken);
                var sent = await SendAsync(new FederationRequest(HttpMethod.Put, server,
                    $"/_matrix/federation/v1/send_knock/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(knockId)}", knock), "send_knock", cancellationToken);
                var stripped = new JsonArray();
                foreach (var node in (sent.Body?["knock_room_state"] as JsonArray ?? []).Take(50))
                {
                    if (node is JsonObject e && e["type"] is JsonValue && e["state_key"] is JsonValue && e["content"] is JsonObject c)
                    {
                        stripped.Add(new JsonObject { ["type"] = e["type"]!.DeepClone(), ["state_key"] = e["state_key"]!.DeepClone(), ["sender"] = e["sender"]?.DeepClone(), ["content"] = c.DeepClone() });
                    }
                }
                await grains.GetGrain<IRoomGrain>(roomId).CompleteRemoteKnockAsync(new ReceivedPdu(knockId, knock), version.Id, stripped.ToJsonString(), cancellationToken);
                return;
            }
            catch (GiveWay e)
            {
                JoinAttemptFailed(server, roomId, e.Message);
                last = e.ForClient;
            }
        }
        throw last!;
    }

    private async Task RejectLocallyAsync(string roomId, string userId, JsonObject content, CancellationToken cancellationToken)
    {
        var member = await rooms.GetCurrentStateAsync(roomId, "m.room.member", userId, cancellationToken);
        if (member is not [var row] || StoredJson.Parse(row.Json) is not JsonObject invite ||
            !RoomVersions.TryGet(await rooms.GetRoomVersionAsync(roomId, cancellationToken), out var version) || version.EventIdsAreServerScoped)
        {
            throw MatrixException.Forbidden("You are not invited to this room.");
        }
        var template = new JsonObject
        {
            ["room_id"] = roomId,
            ["sender"] = userId,
            ["type"] = "m.room.member",
            ["state_key"] = userId,
            ["depth"] = (invite["depth"]?.GetValue<long>() ?? 0) + 1,
            ["prev_events"] = new JsonArray(row.EventId),
            ["auth_events"] = new JsonArray(row.EventId),
        };
        var (leaveId, leave) = await SignedMembershipAsync(template, version, roomId, userId, content, "leave", cancellationToken);
        await grains.GetGrain<IRoomGrain>(roomId).CompleteRemoteLeaveAsync(new ReceivedPdu(leaveId, leave), version.Id, cancellationToken);
    }

    /// <summary>
    /// Invites a user of another server (server-server-api "Inviting to a room"): the room builds and signs the
    /// invite, the invitee's server signs it too (<c>PUT /invite</c>, v2, or v1 for a server without it), and the
    /// room takes it back as a received event. The invitee's server refusing it refuses the invite.
    /// </summary>
    public async Task InviteAsync(string roomId, SendEventCommand command, CancellationToken cancellationToken)
    {
        var invitee = UserId.Parse(command.StateKey!);
        var destination = invitee.Server.ToString();
        var room = grains.GetGrain<IRoomGrain>(roomId);
        var prepared = await room.PrepareInviteAsync(command, cancellationToken);
        RoomVersions.TryGet(prepared.RoomVersion, out var version);
        var strippedState = await StrippedState.OfAsync(rooms, roomId, invitee.ToString());
        var path = $"invite/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(prepared.EventId)}";
        JsonObject? signed;
        try
        {
            var response = await InviteRequestAsync(new FederationRequest(HttpMethod.Put, destination, $"/_matrix/federation/v2/{path}", new JsonObject
            {
                ["room_version"] = prepared.RoomVersion,
                ["event"] = prepared.Pdu.DeepClone(),
                ["invite_room_state"] = strippedState.DeepClone(),
            }), acceptUnrecognized: true, cancellationToken);
            if (response.StatusCode is 404 or 400 && Errcode(response) is "M_UNRECOGNIZED" or null)
            {
                var legacy = prepared.Pdu.DeepClone().AsObject();
                legacy["unsigned"] = new JsonObject { ["invite_room_state"] = strippedState.DeepClone() };
                response = await InviteRequestAsync(new FederationRequest(HttpMethod.Put, destination, $"/_matrix/federation/v1/{path}", legacy),
                    acceptUnrecognized: false, cancellationToken);
                signed = response.Body is JsonArray { Count: 2 } pair ? pair[1]?["event"] as JsonObject : null;
            }
            else
            {
                signed = response.Body?["event"] as JsonObject;
            }
        }
        catch (FederationRequestException e)
        {
            InviteFailed(destination, roomId, e.Message);
            throw RemoteServerQueries.BadGateway($"Failed to reach {destination} to invite {invitee}.");
        }
        if (signed is null || !await SignedByAsync(signed, version, destination, prepared.EventId, cancellationToken))
        {
            InviteFailed(destination, roomId, "the answer is not the invite signed by the invitee's server");
            throw RemoteServerQueries.BadGateway($"{destination} did not sign the invite.");
        }
        var pdu = signed.DeepClone().AsObject();
        pdu.Remove("unsigned");
        var outcome = (await room.ReceiveEventsAsync([new ReceivedPdu(prepared.EventId, pdu)], cancellationToken))[0];
        if (outcome.Error is { } error) throw MatrixException.Unavailable($"The invite could not be stored: {error}. Retry the request.");
        if (!outcome.Accepted) throw MatrixException.Forbidden($"The invite is not allowed ({outcome.Status}: {outcome.Reason}).");
    }

    /// <summary>An invite made after the room's creation (createRoom's <c>invite</c>): a refusal is logged, not thrown.</summary>
    public async Task TryInviteAsync(string roomId, SendEventCommand command, CancellationToken cancellationToken)
    {
        try
        {
            await InviteAsync(roomId, command, cancellationToken);
        }
        catch (MatrixException e)
        {
            InviteFailed(UserId.Parse(command.StateKey!).Server.ToString(), roomId, e.Error);
        }
    }

    private async Task<FederationResponse> InviteRequestAsync(FederationRequest request, bool acceptUnrecognized, CancellationToken cancellationToken)
    {
        var response = await client.SendAsync(request, cancellationToken);
        if (response.IsSuccess) return response;
        if (acceptUnrecognized && response.StatusCode is 404 or 400 && Errcode(response) is "M_UNRECOGNIZED" or null) return response;
        InviteFailed(request.Destination, request.PathAndQuery, $"HTTP {response.StatusCode} {Errcode(response)}");
        if (response.StatusCode is >= 400 and < 500) throw RemoteServerQueries.Relayed(response, $"{request.Destination} refused the invite.");
        throw RemoteServerQueries.BadGateway($"{request.Destination} failed to take the invite.");
    }

    /// <summary>The event is ours unchanged (same ID) and carries a valid signature of <paramref name="server"/>.</summary>
    private async Task<bool> SignedByAsync(JsonObject pdu, RoomVersion version, string server, string eventId, CancellationToken cancellationToken)
    {
        var copy = pdu.DeepClone().AsObject();
        copy.Remove("unsigned");
        if (PduFormat.Problem(copy, version) is not null || EventIds.Compute(copy, version).ToString() != eventId) return false;
        if (copy["signatures"]?[server] is not JsonObject signatures) return false;
        foreach (var (keyId, _) in signatures)
        {
            if (await keyRing.GetVerifyKeyAsync(server, keyId, 0, cancellationToken) is { } key &&
                EventSigning.VerifyEvent(copy, version, server, keyId, key.PublicKey))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The template made ours: the user's content (keeping the authorising user of a restricted join), now as its time, hashed and signed.</summary>
    private async Task<(string EventId, JsonObject Pdu)> SignedMembershipAsync(JsonObject template, RoomVersion version, string roomId, string userId,
        JsonObject content, string membership, CancellationToken cancellationToken)
    {
        if (Text(template["room_id"]) != roomId || Text(template["type"]) != "m.room.member" || Text(template["sender"]) != userId ||
            Text(template["state_key"]) != userId)
        {
            throw new GiveWay($"make_{membership} answered with another event", RemoteServerQueries.BadGateway($"The server answered make_{membership} with another event."));
        }
        var pdu = template.DeepClone().AsObject();
        foreach (var name in new[] { "event_id", "hashes", "signatures", "unsigned" }) pdu.Remove(name);
        var ownContent = content.DeepClone().AsObject();
        ownContent["membership"] = membership;
        if (membership == "join" && template["content"]?["join_authorised_via_users_server"] is JsonValue via)
        {
            ownContent["join_authorised_via_users_server"] = via.DeepClone();
        }
        pdu["content"] = ownContent;
        pdu["origin_server_ts"] = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (version.RedactionV11) pdu.Remove("origin");
        else pdu["origin"] = settings.ServerName;
        try
        {
            ContentHash.Add(pdu);
            EventSigning.SignEvent(pdu, version, settings.ServerName, await keys.CurrentAsync(cancellationToken));
        }
        catch (CanonicalJsonException e)
        {
            throw new GiveWay($"the template cannot be signed: {e.Message}", RemoteServerQueries.BadGateway($"The server answered make_{membership} with an unusable event."));
        }
        if (PduFormat.Problem(pdu, version) is { } problem)
        {
            throw new GiveWay($"the template is malformed: {problem}", RemoteServerQueries.BadGateway($"The server answered make_{membership} with an unusable event."));
        }
        return (EventIds.Compute(pdu, version).ToString(), pdu);
    }

    private Task<JsonObject> SendJoinAsync(string server, string roomId, string joinId, JsonObject join, CancellationToken cancellationToken) =>
        SendMembershipAsync("send_join", server, roomId, joinId, join, cancellationToken);

    /// <summary>send_join or send_leave: v2, or the v1 form (<c>[200, {...}]</c>) of a server that does not know v2.</summary>
    private async Task<JsonObject> SendMembershipAsync(string endpoint, string server, string roomId, string eventId, JsonObject pdu,
        CancellationToken cancellationToken)
    {
        var path = $"{endpoint}/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(eventId)}";
        var response = await SendAsync(new FederationRequest(HttpMethod.Put, server, $"/_matrix/federation/v2/{path}", pdu)
        {
            MaxResponseBytes = MaxSendJoinAnswerBytes,
        }, endpoint, cancellationToken, acceptUnrecognized: true);
        if (response.StatusCode is 404 or 400 && Errcode(response) is "M_UNRECOGNIZED" or null)
        {
            response = await SendAsync(new FederationRequest(HttpMethod.Put, server, $"/_matrix/federation/v1/{path}", pdu)
            {
                MaxResponseBytes = MaxSendJoinAnswerBytes,
            }, endpoint, cancellationToken);
            if (response.Body is JsonArray { Count: 2 } pair && pair[1] is JsonObject legacy) return legacy;
            throw new GiveWay($"{endpoint} v1 answered without [200, {{...}}]", RemoteServerQueries.BadGateway($"The server's {endpoint} answer is unusable."));
        }
        return response.Body as JsonObject
            ?? throw new GiveWay($"{endpoint} answered without an object", RemoteServerQueries.BadGateway($"The server's {endpoint} answer is unusable."));
    }

    /// <summary>
    /// The remote's success, or its refusal for the client: a 4xx other than "cannot make the join" ends the
    /// join there; no answer, a server error or a rate limit gives way to the next server.
    /// </summary>
    private async Task<FederationResponse> SendAsync(FederationRequest request, string what, CancellationToken cancellationToken,
        bool acceptUnrecognized = false)
    {
        FederationResponse response;
        try
        {
            response = await client.SendAsync(request, cancellationToken);
        }
        catch (FederationRequestException e)
        {
            throw new GiveWay($"{what}: {e.Message}", RemoteServerQueries.BadGateway($"Failed to reach {request.Destination}."));
        }
        if (response.IsSuccess) return response;
        var errcode = Errcode(response);
        if (acceptUnrecognized && response.StatusCode is 404 or 400 && errcode is "M_UNRECOGNIZED" or null) return response;
        if (response.StatusCode is >= 500 or 429 || errcode is "M_UNABLE_TO_AUTHORISE_JOIN" or "M_UNABLE_TO_GRANT_JOIN" ||
            response.StatusCode == 404 && errcode is "M_NOT_FOUND" or null)
        {
            throw new GiveWay($"{what}: HTTP {response.StatusCode} {errcode}", response.StatusCode is >= 400 and < 500
                ? RemoteServerQueries.Relayed(response, $"{request.Destination} refused the join.")
                : RemoteServerQueries.BadGateway($"{request.Destination} failed to make the join."));
        }
        if (response.StatusCode is >= 400 and < 500) throw RemoteServerQueries.Relayed(response, $"{request.Destination} refused the join.");
        throw new GiveWay($"{what}: HTTP {response.StatusCode}", RemoteServerQueries.BadGateway($"{request.Destination} failed to make the join."));
    }

    /// <summary>The events of one list of the send_join answer, each checked as a received PDU; one that fails is left out (the grain then finds what it lacks).</summary>
    private async Task<IReadOnlyList<ReceivedPdu>> VerifiedAsync(JsonNode? list, RoomVersion version, string what, CancellationToken cancellationToken)
    {
        if (list is not JsonArray events) throw RemoteServerQueries.BadGateway($"The server's send_join answer has no {what} list.");
        var verified = new List<ReceivedPdu>(events.Count);
        foreach (var node in events)
        {
            if (node is not JsonObject pdu) continue;
            var (ok, refusal) = await verifier.VerifyAsync(pdu, version, cancellationToken);
            if (ok is null)
            {
                EventRefused(what, refusal!);
                continue;
            }
            verified.Add(new ReceivedPdu(ok.EventId, ok.Pdu));
        }
        return verified;
    }

    private static string? Errcode(FederationResponse response) =>
        response.Body?["errcode"] is JsonValue c && c.TryGetValue<string>(out var errcode) ? errcode : null;

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>This server cannot make the join; another may. <see cref="ForClient"/> is what the client gets if none can.</summary>
    private sealed class GiveWay(string reason, MatrixException forClient) : Exception(reason)
    {
        public MatrixException ForClient { get; } = forClient;
    }

    [LoggerMessage(EventId = 5702, Level = LogLevel.Information, Message = "Joining {RoomId} through {Server} failed: {Reason}")]
    private partial void JoinAttemptFailed(string server, string roomId, string reason);

    [LoggerMessage(EventId = 5704, Level = LogLevel.Information, Message = "Leaving {RoomId} through {Server} failed: {Reason}")]
    private partial void LeaveAttemptFailed(string server, string roomId, string reason);

    [LoggerMessage(EventId = 5705, Level = LogLevel.Information, Message = "Inviting to {RoomId} through {Server} failed: {Reason}")]
    private partial void InviteFailed(string server, string roomId, string reason);

    [LoggerMessage(EventId = 5703, Level = LogLevel.Information, Message = "An event of the send_join {List} was refused: {Reason}")]
    private partial void EventRefused(string list, string reason);
}
