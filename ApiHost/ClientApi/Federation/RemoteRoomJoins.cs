using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Keys;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Microsoft.Extensions.Logging;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Federation;

/// <summary>
/// A local user joining a room this server is not in, through a server that is (server-server-api
/// "Joining Rooms"): make_join to each candidate in turn until one gives a template, the join filled in
/// with the user's content, hashed and signed, then send_join (v2, v1 where v2 is unknown) to the same
/// server. Every event of the answer is checked as any received PDU (format, signatures, hashes) before
/// the room grain takes it. As Synapse does, a server that cannot be reached, answers with a server
/// error, or says it cannot make the join, gives way to the next; any other refusal goes to the client.
/// </summary>
public sealed partial class RemoteRoomJoins(IFederationClient client, PduVerifier verifier, ServerSigningKeys keys, IGrainFactory grains,
    ProcessSettings settings, TimeProvider clock, ILogger<RemoteRoomJoins> logger)
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

        var (joinId, join) = await SignedJoinAsync(template, version, roomId, userId, content, cancellationToken);
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

    /// <summary>The template made ours: the user's content (keeping the authorising user of a restricted join), now as its time, hashed and signed.</summary>
    private async Task<(string EventId, JsonObject Pdu)> SignedJoinAsync(JsonObject template, RoomVersion version, string roomId, string userId,
        JsonObject content, CancellationToken cancellationToken)
    {
        if (Text(template["room_id"]) != roomId || Text(template["type"]) != "m.room.member" || Text(template["sender"]) != userId ||
            Text(template["state_key"]) != userId)
        {
            throw new GiveWay("make_join answered with another event", RemoteServerQueries.BadGateway("The server answered make_join with another event."));
        }
        var pdu = template.DeepClone().AsObject();
        foreach (var name in new[] { "event_id", "hashes", "signatures", "unsigned" }) pdu.Remove(name);
        var joinContent = content.DeepClone().AsObject();
        joinContent["membership"] = "join";
        if (template["content"]?["join_authorised_via_users_server"] is JsonValue via) joinContent["join_authorised_via_users_server"] = via.DeepClone();
        pdu["content"] = joinContent;
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
            throw new GiveWay($"the template cannot be signed: {e.Message}", RemoteServerQueries.BadGateway("The server answered make_join with an unusable event."));
        }
        if (PduFormat.Problem(pdu, version) is { } problem)
        {
            throw new GiveWay($"the template is malformed: {problem}", RemoteServerQueries.BadGateway("The server answered make_join with an unusable event."));
        }
        return (EventIds.Compute(pdu, version).ToString(), pdu);
    }

    private async Task<JsonObject> SendJoinAsync(string server, string roomId, string joinId, JsonObject join, CancellationToken cancellationToken)
    {
        var path = $"send_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(joinId)}";
        var response = await SendAsync(new FederationRequest(HttpMethod.Put, server, $"/_matrix/federation/v2/{path}", join)
        {
            MaxResponseBytes = MaxSendJoinAnswerBytes,
        }, "send_join", cancellationToken, acceptUnrecognized: true);
        if (response.StatusCode is 404 or 400 && Errcode(response) is "M_UNRECOGNIZED" or null)
        {
            // A server without v2 answers the v1 form, [200, {...}].
            response = await SendAsync(new FederationRequest(HttpMethod.Put, server, $"/_matrix/federation/v1/{path}", join)
            {
                MaxResponseBytes = MaxSendJoinAnswerBytes,
            }, "send_join", cancellationToken);
            if (response.Body is JsonArray { Count: 2 } pair && pair[1] is JsonObject legacy) return legacy;
            throw new GiveWay("send_join v1 answered without [200, {...}]", RemoteServerQueries.BadGateway("The server's send_join answer is unusable."));
        }
        return response.Body as JsonObject
            ?? throw new GiveWay("send_join answered without an object", RemoteServerQueries.BadGateway("The server's send_join answer is unusable."));
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

    [LoggerMessage(EventId = 5703, Level = LogLevel.Information, Message = "An event of the send_join {List} was refused: {Reason}")]
    private partial void EventRefused(string list, string reason);
}
