using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Bench.Federation;

/// <summary>A PDU ready to send, with the event ID the server will answer under.</summary>
public sealed record PreparedPdu(string EventId, JsonObject Pdu);

/// <summary>
/// One fake origin's user in one room of the server under test: joined through the real join flow
/// (server-server-api "Joining Rooms": make_join, then the signed event to send_join v2), then a line of
/// messages, each citing the one before as its only prev event, so the server never has to fetch a missing
/// event. Their auth events are the room's create and power levels and the user's join, as for any
/// message of a member. Building is pure computation (hash, sign, reference hash), done before the clock starts.
/// </summary>
public sealed class RemoteRoomChain
{
    private readonly RoomVersion _version;
    private readonly JsonArray _auth;
    private string _last;
    private long _depth;

    private RemoteRoomChain(FakeOrigin origin, string roomId, RoomVersion version, JsonArray auth, string joinId, long joinDepth)
    {
        (Origin, RoomId, _version, _auth, _last, _depth) = (origin, roomId, version, auth, joinId, joinDepth);
    }

    public FakeOrigin Origin { get; }

    public string RoomId { get; }

    /// <summary>The event the next message will cite, and its depth.</summary>
    public (string EventId, long Depth) Tip => (_last, _depth);

    /// <summary>
    /// Starts the line after another event of the room (the last of all the joins), so every origin's line
    /// grows from the room's current state rather than from the state at its own join, which later joins
    /// have moved on: a message built on an older state makes the server resolve state for every event.
    /// </summary>
    public void ContinueFrom((string EventId, long Depth) tip) => (_last, _depth) = tip;

    public static async Task<RemoteRoomChain> JoinAsync(FederationHttp server, string destination, FakeOrigin origin, string roomId)
    {
        var room = Uri.EscapeDataString(roomId);
        var versions = string.Join('&', RoomVersions.All.Select(v => "ver=" + v.Id));
        var made = await server.RequireAsync(SignedRequest.Create(HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{room}/{Uri.EscapeDataString(origin.User)}?{versions}", origin, destination, null));
        if (!RoomVersions.TryGet(made["room_version"]?.GetValue<string>(), out var version) || version.EventIdsAreServerScoped)
        {
            throw new InvalidOperationException($"make_join offered room version {made["room_version"]}, which Bench does not play (1 and 2 carry their event IDs).");
        }
        var join = made["event"]!.AsObject();
        var joinId = Finish(join, version, origin);
        var answer = await server.RequireAsync(SignedRequest.Create(HttpMethod.Put,
            $"/_matrix/federation/v2/send_join/{room}/{Uri.EscapeDataString(joinId)}", origin, destination, join));
        var auth = new JsonArray();
        foreach (var e in answer["state"]!.AsArray().Select(e => e!.AsObject()))
        {
            if (e["type"]!.GetValue<string>() is "m.room.create" or "m.room.power_levels" && e["state_key"]?.GetValue<string>() == "")
            {
                auth.Add(EventIds.Compute(e, version).ToString());
            }
        }
        auth.Add(joinId);
        return new RemoteRoomChain(origin, roomId, version, auth, joinId, join["depth"]!.GetValue<long>());
    }

    /// <summary>The next message of this user in this room, hashed and signed, citing the one before.</summary>
    public PreparedPdu NextMessage(string body)
    {
        var pdu = new JsonObject
        {
            ["room_id"] = RoomId,
            ["sender"] = Origin.User,
            ["type"] = "m.room.message",
            ["content"] = new JsonObject { ["msgtype"] = "m.text", ["body"] = body },
            ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["depth"] = ++_depth,
            ["prev_events"] = new JsonArray(_last),
            ["auth_events"] = _auth.DeepClone(),
        };
        _last = Finish(pdu, _version, Origin);
        return new PreparedPdu(_last, pdu);
    }

    private static string Finish(JsonObject pdu, RoomVersion version, FakeOrigin origin)
    {
        ContentHash.Add(pdu);
        EventSigning.SignEvent(pdu, version, origin.ServerName, origin.Key);
        return EventIds.Compute(pdu, version).ToString();
    }
}
