using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Keys;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The room endpoints of the server-server API that this server answers for its rooms: transactions
/// of PDUs (<c>/send</c>), joins and leaves (<c>make_join</c>, <c>send_join</c>, <c>make_leave</c>, <c>send_leave</c>, v1 and v2), and reads of events,
/// state and auth chains by servers with members in the room.
/// </summary>
public static class RoomFederationEndpoints
{
    public const int MaxPdusPerTransaction = 50;
    public const int MaxEdusPerTransaction = 100;

    /// <summary>Events handed to a room grain in one call (its limit), the transaction's and the missing ones fetched for them.</summary>
    private const int MaxPdusPerRoomCall = 100;

    /// <summary>PDUs of one transaction whose gaps are filled with the state at their missing prev events, at most: each costs several requests.</summary>
    private const int MaxGapsFilledPerTransaction = 2;

    public static IEndpointRouteBuilder MapRoomFederationApi(this IEndpointRouteBuilder app)
    {
        app.MapPut("/_matrix/federation/v1/send/{txnId}", SendTransactionAsync);
        app.MapGet("/_matrix/federation/v1/make_join/{roomId}/{userId}", MakeJoinAsync);
        app.MapPut("/_matrix/federation/v2/send_join/{roomId}/{eventId}", (HttpContext h, string roomId, string eventId, FederationOrigin o,
            RoomReader r, RoomDagStore d, PduVerifier v, IGrainFactory g, AuthChains c, ProcessSettings s) =>
            SendJoinAsync(h, roomId, eventId, o, r, d, v, g, c, s, legacy: false));
        app.MapPut("/_matrix/federation/v1/send_join/{roomId}/{eventId}", (HttpContext h, string roomId, string eventId, FederationOrigin o,
            RoomReader r, RoomDagStore d, PduVerifier v, IGrainFactory g, AuthChains c, ProcessSettings s) =>
            SendJoinAsync(h, roomId, eventId, o, r, d, v, g, c, s, legacy: true));
        app.MapGet("/_matrix/federation/v1/make_leave/{roomId}/{userId}", MakeLeaveAsync);
        app.MapPut("/_matrix/federation/v2/send_leave/{roomId}/{eventId}", (HttpContext h, string roomId, string eventId, FederationOrigin o,
            RoomReader r, PduVerifier v, IGrainFactory g) => SendLeaveAsync(h, roomId, eventId, o, r, v, g, legacy: false));
        app.MapPut("/_matrix/federation/v1/send_leave/{roomId}/{eventId}", (HttpContext h, string roomId, string eventId, FederationOrigin o,
            RoomReader r, PduVerifier v, IGrainFactory g) => SendLeaveAsync(h, roomId, eventId, o, r, v, g, legacy: true));
        app.MapGet("/_matrix/federation/v1/make_knock/{roomId}/{userId}", MakeKnockAsync);
        app.MapPut("/_matrix/federation/v1/send_knock/{roomId}/{eventId}", SendKnockAsync);
        app.MapGet("/_matrix/federation/v1/event/{eventId}", EventAsync);
        app.MapGet("/_matrix/federation/v1/state_ids/{roomId}", (HttpContext h, string roomId, FederationOrigin o, RoomReader r, RoomDagStore d,
            AuthChains c, ProcessSettings s) => StateAsync(h, roomId, o, r, d, c, s, idsOnly: true));
        app.MapGet("/_matrix/federation/v1/state/{roomId}", (HttpContext h, string roomId, FederationOrigin o, RoomReader r, RoomDagStore d,
            AuthChains c, ProcessSettings s) => StateAsync(h, roomId, o, r, d, c, s, idsOnly: false));
        app.MapGet("/_matrix/federation/v1/event_auth/{roomId}/{eventId}", EventAuthAsync);
        return app;
    }

    private static async Task<IResult> SendTransactionAsync(HttpContext http, string txnId, FederationOrigin origin, RoomReader rooms,
        PduVerifier verifier, IGrainFactory grains, ReceivedTransactionStore transactions, InboundEdus inboundEdus, MissingEvents missing, MissingState missingState, TimeProvider clock)
    {
        if (await transactions.FindAsync(origin.ServerName, txnId, http.RequestAborted) is { } earlier)
        {
            return Results.Text(earlier, "application/json");
        }
        var body = await JsonBody.ReadObjectAsync(http.Request, maxBytes: XMatrixAuthenticationMiddleware.MaxBodyBytes);
        if (body.OptionalString("origin") is { } claimed && claimed != origin.ServerName)
        {
            throw MatrixException.Forbidden("The transaction's origin is not the server that signed the request.");
        }
        var pdus = body["pdus"] switch
        {
            null => [],
            JsonArray a => a,
            _ => throw MatrixException.BadJson("'pdus' must be a list."),
        };
        var edus = body["edus"] switch
        {
            null => [],
            JsonArray a => a,
            _ => throw MatrixException.BadJson("'edus' must be a list."),
        };
        if (pdus.Count > MaxPdusPerTransaction || edus.Count > MaxEdusPerTransaction)
        {
            throw MatrixException.BadJson($"A transaction holds at most {MaxPdusPerTransaction} PDUs and {MaxEdusPerTransaction} EDUs.");
        }

        var results = new JsonObject();
        var byRoom = new Dictionary<string, (RoomVersion Version, List<ReceivedPdu> Pdus)>(StringComparer.Ordinal);
        foreach (var node in pdus)
        {
            if (node is not JsonObject pdu || pdu["room_id"] is not JsonValue r || !r.TryGetValue<string>(out var roomId)) continue;
            if (!RoomVersions.TryGet(await rooms.GetRoomVersionAsync(roomId, http.RequestAborted), out var version))
            {
                // Synapse drops PDUs of rooms it is not in; there is no event ID to answer under without the room version.
                continue;
            }
            var (verified, refusal) = await verifier.VerifyAsync(pdu, version, http.RequestAborted);
            if (verified is null)
            {
                if (TryEventId(pdu, version) is { } id) results[id] = new JsonObject { ["error"] = refusal };
                continue;
            }
            if (!byRoom.TryGetValue(roomId, out var room)) byRoom[roomId] = room = (version, []);
            room.Pdus.Add(new ReceivedPdu(verified.EventId, verified.Pdu));
        }
        foreach (var (roomId, (version, list)) in byRoom)
        {
            if (!await RoomServerAcl.AllowsAsync(rooms, roomId, origin.ServerName, http.RequestAborted))
            {
                foreach (var pdu in list) results[pdu.EventId] = new JsonObject { ["error"] = "Server is banned from this room." };
                continue;
            }
            var ours = list.ToDictionary(p => p.EventId, StringComparer.Ordinal);
            var withMissing = await missing.WithMissingAsync(origin.ServerName, roomId, version, list, http.RequestAborted);
            var gaps = new List<ReceivedPdu>();
            foreach (var chunk in withMissing.Chunk(MaxPdusPerRoomCall))
            {
                foreach (var outcome in await grains.GetGrain<IRoomGrain>(roomId).ReceiveEventsAsync(chunk, http.RequestAborted))
                {
                    if (!ours.TryGetValue(outcome.EventId, out var pdu)) continue;
                    results[outcome.EventId] = Result(outcome);
                    if (outcome.Error == ReceivedPduOutcome.PrevEventsMissing) gaps.Add(pdu);
                }
            }
            // A gap get_missing_events could not close: the state at the missing prev events, from the sender.
            foreach (var pdu in gaps.Take(MaxGapsFilledPerTransaction))
            {
                try
                {
                    if (!await missingState.FillAsync(origin.ServerName, roomId, version, pdu, http.RequestAborted)) continue;
                }
                catch (MatrixException e) when (e.StatusCode is 400 or 413)
                {
                    continue;
                }
                foreach (var outcome in await grains.GetGrain<IRoomGrain>(roomId).ReceiveEventsAsync([pdu], http.RequestAborted)) results[outcome.EventId] = Result(outcome);
            }
        }
        await inboundEdus.HandleAsync(origin.ServerName, edus, http.RequestAborted);
        var answer = new JsonObject { ["pdus"] = results }.ToJsonString();
        await transactions.SaveAsync(origin.ServerName, txnId, answer, clock.GetUtcNow().ToUnixTimeMilliseconds(), http.RequestAborted);
        return Results.Text(answer, "application/json");
    }

    private static JsonObject Result(ReceivedPduOutcome outcome) =>
        outcome.Error is { } error ? new JsonObject { ["error"] = error }
        : outcome.Status == DagStatus.Rejected ? new JsonObject { ["error"] = $"The event was rejected: {outcome.Reason}." }
        : new JsonObject();

    private static async Task<IResult> MakeJoinAsync(HttpContext http, string roomId, string userId, FederationOrigin origin, IGrainFactory grains)
    {
        if (!UserId.TryParse(userId, out var user)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{userId}' is not a user ID.");
        if (user.Server.ToString() != origin.ServerName) throw MatrixException.Forbidden("A server may only make joins for its own users.");
        if (!RoomId.TryParse(roomId, out _)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{roomId}' is not a room ID.");
        await RoomServerAcl.RequireAllowedAsync(http.RequestServices.GetRequiredService<RoomReader>(), roomId, origin.ServerName, http.RequestAborted);
        // Spec: a server that names no versions supports only version 1.
        var versions = http.Request.Query["ver"].Where(v => v is not null).Select(v => v!).ToList();
        if (versions.Count == 0) versions.Add("1");
        var via = await AuthorisedViaAsync(http.RequestServices.GetRequiredService<RestrictedJoins>(), roomId, user.ToString(), http.RequestAborted);
        var template = await grains.GetGrain<IRoomGrain>(roomId).MakeJoinAsync(user.ToString(), versions, via, http.RequestAborted);
        return Results.Json(new JsonObject { ["event"] = template.Event, ["room_version"] = template.RoomVersion });
    }

    private static async Task<IResult> SendJoinAsync(HttpContext http, string roomId, string eventId, FederationOrigin origin, RoomReader rooms,
        RoomDagStore dag, PduVerifier verifier, IGrainFactory grains, AuthChains chains, ProcessSettings settings, bool legacy)
    {
        var version = await RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RoomServerAcl.RequireAllowedAsync(rooms, roomId, origin.ServerName, http.RequestAborted);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var via = body["content"]?["join_authorised_via_users_server"] is JsonValue viaValue && viaValue.TryGetValue<string>(out var viaUser) ? viaUser : null;
        if (via is not null && (!UserId.TryParse(via, out var viaId) || viaId.Server.ToString() != settings.ServerName))
        {
            throw MatrixException.BadJson("The join is authorised by a user of another server; send it there.");
        }
        if (via is not null)
        {
            // A restricted join this server vouches for: its signature joins the sender's before the checks, which require both.
            body = body.DeepClone().AsObject();
            try
            {
                EventSigning.SignEvent(body, version, settings.ServerName,
                    await http.RequestServices.GetRequiredService<ServerSigningKeys>().CurrentAsync(http.RequestAborted));
            }
            catch (CanonicalJsonException e)
            {
                throw MatrixException.BadJson($"The join event is not canonical JSON: {e.Message}.");
            }
        }
        var (verified, refusal) = await verifier.VerifyAsync(body, version, http.RequestAborted);
        if (verified is null) throw MatrixException.BadJson($"The join event is not acceptable: {refusal}.");
        if (verified.Redacted) throw MatrixException.BadJson("The join event's content hash does not match its content.");
        if (verified.EventId != eventId) throw MatrixException.BadJson("The event ID in the path is not the event's.");
        if (verified.Pdu["room_id"]?.GetValue<string>() != roomId) throw MatrixException.BadJson("The event is of another room.");
        var sender = UserId.Parse(verified.Pdu["sender"]!.GetValue<string>());
        if (sender.Server.ToString() != origin.ServerName) throw MatrixException.Forbidden("A server may only send joins of its own users.");

        if (via is not null &&
            (await http.RequestServices.GetRequiredService<RestrictedJoins>().CheckAsync(roomId, sender.ToString(), http.RequestAborted)).Check is
            RestrictedJoinCheck.NotAllowed or RestrictedJoinCheck.NoConditionKnown)
        {
            throw MatrixException.Forbidden("You are in none of the rooms that grant access to this room.");
        }
        var accepted = await grains.GetGrain<IRoomGrain>(roomId).SendJoinAsync(new ReceivedPdu(eventId, verified.Pdu), http.RequestAborted);
        var state = await StatePdusAsync(dag, roomId, accepted.StateBefore, http.RequestAborted);
        var chain = await chains.ForAsync(roomId, version, [.. state, CanonicalJson.ToCanonicalString(accepted.Event)], http.RequestAborted);
        var servers = await rooms.GetJoinedServersAsync(roomId, http.RequestAborted);
        var answer = new JsonObject
        {
            ["origin"] = settings.ServerName,
            ["state"] = Pdus(state),
            ["auth_chain"] = Pdus(chain.Values),
            ["event"] = accepted.Event.DeepClone(),
            // omit_members may be honoured or not; a full answer says so.
            ["members_omitted"] = false,
            ["servers_in_room"] = new JsonArray([.. servers.Select(s => JsonValue.Create(s))]),
        };
        return legacy ? Results.Json(new JsonArray(200, answer)) : Results.Json(answer);
    }

    /// <summary>
    /// For a restricted room, the user of this server who vouches for a remote user's join (server-server "Restricted
    /// rooms"): the user must be in an allowed room this server is in; otherwise the spec's errors, so the joining
    /// server tries another resident (M_UNABLE_TO_AUTHORISE_JOIN, M_UNABLE_TO_GRANT_JOIN) or gives up (403).
    /// </summary>
    private static async Task<string?> AuthorisedViaAsync(RestrictedJoins restricted, string roomId, string userId, CancellationToken cancellationToken)
    {
        var (check, via) = await restricted.CheckAsync(roomId, userId, cancellationToken);
        return check switch
        {
            RestrictedJoinCheck.NotNeeded or RestrictedJoinCheck.Authorised => via,
            RestrictedJoinCheck.NoConditionKnown => throw new MatrixException(400, "M_UNABLE_TO_AUTHORISE_JOIN",
                "This server is in none of the rooms that grant access to this room."),
            RestrictedJoinCheck.NoInviter => throw new MatrixException(400, "M_UNABLE_TO_GRANT_JOIN", "No user of this server can let you in."),
            _ => throw MatrixException.Forbidden("You are in none of the rooms that grant access to this room."),
        };
    }

    private static async Task<IResult> MakeLeaveAsync(HttpContext http, string roomId, string userId, FederationOrigin origin, IGrainFactory grains)
    {
        if (!UserId.TryParse(userId, out var user)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{userId}' is not a user ID.");
        if (user.Server.ToString() != origin.ServerName) throw MatrixException.Forbidden("A server may only make leaves for its own users.");
        if (!RoomId.TryParse(roomId, out _)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{roomId}' is not a room ID.");
        await RoomServerAcl.RequireAllowedAsync(http.RequestServices.GetRequiredService<RoomReader>(), roomId, origin.ServerName, http.RequestAborted);
        var template = await grains.GetGrain<IRoomGrain>(roomId).MakeLeaveAsync(user.ToString(), http.RequestAborted);
        return Results.Json(new JsonObject { ["event"] = template.Event, ["room_version"] = template.RoomVersion });
    }

    private static async Task<IResult> SendLeaveAsync(HttpContext http, string roomId, string eventId, FederationOrigin origin, RoomReader rooms,
        PduVerifier verifier, IGrainFactory grains, bool legacy)
    {
        var version = await RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RoomServerAcl.RequireAllowedAsync(rooms, roomId, origin.ServerName, http.RequestAborted);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var (verified, refusal) = await verifier.VerifyAsync(body, version, http.RequestAborted);
        if (verified is null) throw MatrixException.BadJson($"The leave event is not acceptable: {refusal}.");
        if (verified.Redacted) throw MatrixException.BadJson("The leave event's content hash does not match its content.");
        if (verified.EventId != eventId) throw MatrixException.BadJson("The event ID in the path is not the event's.");
        if (verified.Pdu["room_id"]?.GetValue<string>() != roomId) throw MatrixException.BadJson("The event is of another room.");
        var sender = UserId.Parse(verified.Pdu["sender"]!.GetValue<string>());
        if (sender.Server.ToString() != origin.ServerName) throw MatrixException.Forbidden("A server may only send leaves of its own users.");
        await grains.GetGrain<IRoomGrain>(roomId).SendLeaveAsync(new ReceivedPdu(eventId, verified.Pdu), http.RequestAborted);
        return legacy ? Results.Json(new JsonArray(200, new JsonObject())) : Results.Json(new JsonObject());
    }

    private static async Task<IResult> MakeKnockAsync(HttpContext http, string roomId, string userId, FederationOrigin origin, RoomReader rooms,
        IGrainFactory grains)
    {
        if (!UserId.TryParse(userId, out var user)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{userId}' is not a user ID.");
        if (user.Server.ToString() != origin.ServerName) throw MatrixException.Forbidden("A server may only make knocks for its own users.");
        if (!RoomId.TryParse(roomId, out _)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{roomId}' is not a room ID.");
        await RoomServerAcl.RequireAllowedAsync(rooms, roomId, origin.ServerName, http.RequestAborted);
        var versions = http.Request.Query["ver"].Where(v => v is not null).Select(v => v!).ToList();
        if (versions.Count == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'ver' is missing: knocking needs room version 7 or later.");
        var template = await grains.GetGrain<IRoomGrain>(roomId).MakeKnockAsync(user.ToString(), versions, http.RequestAborted);
        return Results.Json(new JsonObject { ["event"] = template.Event, ["room_version"] = template.RoomVersion });
    }

    /// <summary>send_knock (v1 only): the knock through the received-event checks, answered with the room's stripped state for the knocker.</summary>
    private static async Task<IResult> SendKnockAsync(HttpContext http, string roomId, string eventId, FederationOrigin origin, RoomReader rooms,
        PduVerifier verifier, IGrainFactory grains)
    {
        var version = await RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RoomServerAcl.RequireAllowedAsync(rooms, roomId, origin.ServerName, http.RequestAborted);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var (verified, refusal) = await verifier.VerifyAsync(body, version, http.RequestAborted);
        if (verified is null) throw new MatrixException(400, "M_INVALID_PARAM", $"The knock event is not acceptable: {refusal}.");
        if (verified.Redacted) throw new MatrixException(400, "M_INVALID_PARAM", "The knock's content hash does not match its content.");
        if (verified.EventId != eventId) throw new MatrixException(400, "M_INVALID_PARAM", "The event ID in the path is not the event's.");
        if (verified.Pdu["room_id"]?.GetValue<string>() != roomId) throw new MatrixException(400, "M_INVALID_PARAM", "The event is of another room.");
        var sender = UserId.Parse(verified.Pdu["sender"]!.GetValue<string>());
        if (sender.Server.ToString() != origin.ServerName) throw MatrixException.Forbidden("A server may only send knocks of its own users.");
        await grains.GetGrain<IRoomGrain>(roomId).SendKnockAsync(new ReceivedPdu(eventId, verified.Pdu), http.RequestAborted);
        var stripped = await Homeserver.ApiHost.ClientApi.Rooms.StrippedState.OfAsync(rooms, roomId, sender.ToString());
        return Results.Json(new JsonObject { ["knock_room_state"] = stripped });
    }

    private static async Task<IResult> EventAsync(HttpContext http, string eventId, FederationOrigin origin, RoomReader rooms, RoomDagStore dag,
        ProcessSettings settings, TimeProvider clock)
    {
        var roomId = await rooms.GetRoomOfEventAsync(eventId, http.RequestAborted) ?? throw MatrixException.NotFound("Unknown event.");
        await RequireParticipantAsync(rooms, roomId, origin, http.RequestAborted);
        var pdus = await dag.GetPdusAsync(roomId, [eventId], http.RequestAborted);
        if (!pdus.TryGetValue(eventId, out var json)) throw MatrixException.NotFound("Unknown event.");
        return Results.Json(new JsonObject
        {
            ["origin"] = settings.ServerName,
            ["origin_server_ts"] = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            ["pdus"] = new JsonArray(StoredJson.Parse(json)),
        });
    }

    private static async Task<IResult> StateAsync(HttpContext http, string roomId, FederationOrigin origin, RoomReader rooms, RoomDagStore dag,
        AuthChains chains, ProcessSettings settings, bool idsOnly)
    {
        var version = await RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RequireParticipantAsync(rooms, roomId, origin, http.RequestAborted);
        var eventId = http.Request.Query["event_id"].ToString();
        if (eventId.Length == 0) throw new MatrixException(400, "M_MISSING_PARAM", "'event_id' is missing.");
        if (await dag.GetEventsAsync(roomId, [eventId], http.RequestAborted) is not [var row] || row.Status is DagStatus.Rejected or DagStatus.Outlier)
        {
            throw MatrixException.NotFound("The room holds no such event with its state.");
        }
        if (row.StateBefore is not { } before) throw MatrixException.NotFound("The state before this event was not kept (it predates this server's room DAG).");
        var ids = (await dag.GetStateAsync(before, http.RequestAborted)).Values.ToList();
        var state = await StatePdusAsync(dag, roomId, ids, http.RequestAborted);
        var chain = await chains.ForAsync(roomId, version, state, http.RequestAborted);
        return idsOnly
            ? Results.Json(new JsonObject
            {
                ["pdu_ids"] = new JsonArray([.. ids.Select(i => JsonValue.Create(i))]),
                ["auth_chain_ids"] = new JsonArray([.. chain.Keys.Select(i => JsonValue.Create(i))]),
            })
            : Results.Json(new JsonObject { ["pdus"] = Pdus(state), ["auth_chain"] = Pdus(chain.Values) });
    }

    private static async Task<IResult> EventAuthAsync(HttpContext http, string roomId, string eventId, FederationOrigin origin, RoomReader rooms,
        RoomDagStore dag, AuthChains chains)
    {
        var version = await RoomVersionAsync(rooms, roomId, http.RequestAborted);
        await RequireParticipantAsync(rooms, roomId, origin, http.RequestAborted);
        var pdus = await dag.GetPdusAsync(roomId, [eventId], http.RequestAborted);
        if (!pdus.TryGetValue(eventId, out var json)) throw MatrixException.NotFound("Unknown event.");
        var chain = await chains.ForAsync(roomId, version, [json], http.RequestAborted);
        return Results.Json(new JsonObject { ["auth_chain"] = Pdus(chain.Values) });
    }

    internal static async Task<RoomVersion> RoomVersionAsync(RoomReader rooms, string roomId, CancellationToken cancellationToken) =>
        RoomVersions.TryGet(await rooms.GetRoomVersionAsync(roomId, cancellationToken), out var version)
            ? version
            : throw MatrixException.NotFound("This server is not in the room.");

    /// <summary>Only servers with a member joined to the room read its events and state here (the spec leaves visibility to the server; Synapse also checks history visibility).</summary>
    internal static async Task RequireParticipantAsync(RoomReader rooms, string roomId, FederationOrigin origin, CancellationToken cancellationToken)
    {
        await RoomServerAcl.RequireAllowedAsync(rooms, roomId, origin.ServerName, cancellationToken);
        if (!(await rooms.GetJoinedServersAsync(roomId, cancellationToken)).Contains(origin.ServerName, StringComparer.Ordinal))
        {
            throw MatrixException.Forbidden($"{origin.ServerName} is not in the room.");
        }
    }

    private static async Task<IReadOnlyList<string>> StatePdusAsync(RoomDagStore dag, string roomId, IReadOnlyCollection<string> ids,
        CancellationToken cancellationToken) => [.. (await dag.GetPdusAsync(roomId, ids, cancellationToken)).Values];

    private static JsonArray Pdus(IEnumerable<string> jsons) => new([.. jsons.Select(StoredJson.Parse)]);

    /// <summary>The ID to answer a refused PDU under: only for a well-formed one, whose ID can be worked out.</summary>
    private static string? TryEventId(JsonObject pdu, RoomVersion version)
    {
        var copy = pdu.DeepClone().AsObject();
        copy.Remove("unsigned");
        return PduFormat.Problem(copy, version) is null ? PduFormat.EventIdOf(copy, version) : null;
    }
}
