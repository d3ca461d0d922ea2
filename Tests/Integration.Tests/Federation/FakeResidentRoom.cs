using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A room of a fake resident server, for a local user to join (and page back through) while the resident misbehaves:
/// carol created it, joined, set power levels and a public join rule; tests add events, signed by the resident or
/// by anyone, each citing the one before it.
/// </summary>
internal sealed class FakeResidentRoom(FakeServerKeys keys, string roomId)
{
    public static readonly RoomVersion Version = RoomVersions.Default;

    public string RoomId => roomId;
    public string Carol => $"@carol:{keys.ServerName}";
    public List<(string Id, JsonObject Pdu)> Events { get; } = [];
    public string Id(string type, string stateKey = "") => Events.Last(e => e.Pdu["type"]!.GetValue<string>() == type &&
        e.Pdu["state_key"]?.GetValue<string>() == stateKey).Id;

    public string Add(string sender, string type, string? stateKey, JsonObject content, params string[] auth) =>
        AddSignedBy(keys, sender, type, stateKey, content, auth);

    public string AddSignedBy(FakeServerKeys signer, string sender, string type, string? stateKey, JsonObject content, params string[] auth)
    {
        var pdu = new JsonObject
        {
            ["room_id"] = roomId,
            ["sender"] = sender,
            ["type"] = type,
            ["content"] = content,
            ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["depth"] = Events.Count + 1,
            ["prev_events"] = Events.Count == 0 ? new JsonArray() : new JsonArray(Events[^1].Id),
            ["auth_events"] = new JsonArray([.. auth.Select(a => JsonValue.Create(a))]),
        };
        if (stateKey is not null) pdu["state_key"] = stateKey;
        ContentHash.Add(pdu);
        EventSigning.SignEvent(pdu, Version, signer.ServerName, signer.Key);
        var id = EventIds.Compute(pdu, Version).ToString();
        Events.Add((id, pdu));
        return id;
    }

    /// <summary>A message of carol's, authorised as the spec says (create, power levels, her membership).</summary>
    public string AddMessage(string text) => Add(Carol, "m.room.message", null, new JsonObject { ["msgtype"] = "m.text", ["body"] = text },
        Id("m.room.create"), Id("m.room.power_levels"), Id("m.room.member", Carol));

    public static FakeResidentRoom Create(FakeServerKeys keys)
    {
        var room = new FakeResidentRoom(keys, $"!fake{Guid.NewGuid():N}:{keys.ServerName}");
        var create = room.Add(room.Carol, "m.room.create", "", new JsonObject { ["creator"] = room.Carol, ["room_version"] = Version.Id });
        var join = room.Add(room.Carol, "m.room.member", room.Carol, new JsonObject { ["membership"] = "join" }, create);
        var power = room.Add(room.Carol, "m.room.power_levels", "", new JsonObject { ["users"] = new JsonObject { [room.Carol] = 100 } }, create, join);
        room.Add(room.Carol, "m.room.join_rules", "", new JsonObject { ["join_rule"] = "public" }, create, join, power);
        return room;
    }

    /// <summary>The room's state: the last event of each type and state key.</summary>
    public List<JsonObject> State() => Events.GroupBy(e => (e.Pdu["type"]!.GetValue<string>(), e.Pdu["state_key"]?.GetValue<string>()))
        .Where(g => g.Key.Item2 is not null).Select(g => g.Last().Pdu).ToList();

    public static Func<HttpContext, Task> Json(JsonNode body, int status = 200) => async http =>
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body.ToJsonString());
    };

    /// <summary>Serves make_join (a template on the room's last event) and send_join (the answer <paramref name="answer"/> makes of the state).</summary>
    public static void ServeJoin(RemoteHomeserver remote, FakeServerKeys keys, FakeResidentRoom room,
        Func<List<JsonObject>, JsonObject>? answer = null, string? madeVersion = null)
    {
        remote.HandlePrefix(keys.ServerName, "/_matrix/federation/v1/make_join/", async http =>
        {
            var userId = Uri.UnescapeDataString(http.Request.Path.Value!.Split('/')[^1]);
            await Json(new JsonObject
            {
                ["room_version"] = madeVersion ?? Version.Id,
                ["event"] = new JsonObject
                {
                    ["room_id"] = room.RoomId,
                    ["sender"] = userId,
                    ["state_key"] = userId,
                    ["type"] = "m.room.member",
                    ["content"] = new JsonObject { ["membership"] = "join" },
                    ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    ["depth"] = room.Events.Count + 1,
                    ["prev_events"] = new JsonArray(room.Events[^1].Id),
                    ["auth_events"] = new JsonArray(room.Id("m.room.create"), room.Id("m.room.power_levels"), room.Id("m.room.join_rules")),
                },
            })(http);
        });
        remote.HandlePrefix(keys.ServerName, "/_matrix/federation/v2/send_join/", async http =>
        {
            var latest = room.State();
            var body = answer?.Invoke(latest) ?? new JsonObject
            {
                ["origin"] = keys.ServerName,
                ["state"] = new JsonArray([.. latest.Select(p => p.DeepClone())]),
                ["auth_chain"] = new JsonArray([.. room.Events.Select(e => e.Pdu.DeepClone())]),
            };
            await Json(body)(http);
        });
    }
}
