using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A local user pages back through a room joined over federation (client-server <c>GET /messages</c>;
/// server-server "Backfilling and retrieving missing events", "Checks performed on receipt of a PDU"): the
/// history from before the join comes from the resident with <c>/backfill</c> from the join's prev events, each
/// event checked as any received PDU. An event with a bad signature is dropped, one whose content does not
/// match its hash is kept redacted, one that fails the auth rules is stored as rejected and never shown; the
/// rest is served in the room's order, ending at m.room.create. The state the join brought is not shown as
/// timeline until backfill puts it in its place, and backfilled history never reaches /sync as news.
/// </summary>
public sealed class RemoteBackfillTests(FederationClusterFixture fixture) : IClassFixture<FederationClusterFixture>
{
    private const string BackfillPath = "/_matrix/federation/v1/backfill/";

    /// <summary>Serves /backfill from the room's linear history: each <c>v</c> and the events before it, newest first, up to <c>limit</c>.</summary>
    private static void ServeBackfill(RemoteHomeserver remote, FakeServerKeys keys, FakeResidentRoom room, Func<string, JsonObject, JsonObject>? tamper = null)
    {
        remote.HandlePrefix(keys.ServerName, BackfillPath, async http =>
        {
            var limit = int.Parse(http.Request.Query["limit"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
            var from = http.Request.Query["v"].Select(v => room.Events.FindIndex(e => e.Id == v)).Where(i => i >= 0).DefaultIfEmpty(-1).Max();
            var pdus = new JsonArray();
            for (var i = from; i >= 0 && pdus.Count < limit; i--)
            {
                var (id, pdu) = room.Events[i];
                pdus.Add(tamper?.Invoke(id, pdu.DeepClone().AsObject()) ?? pdu.DeepClone());
            }
            await FakeResidentRoom.Json(new JsonObject
            {
                ["origin"] = keys.ServerName,
                ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                ["pdus"] = pdus,
            })(http);
        });
    }

    /// <summary>A send_join answer with the state and only its auth chain (no messages), as a resident sends it.</summary>
    private static JsonObject StateOnly(FakeServerKeys keys, List<JsonObject> state) => new()
    {
        ["origin"] = keys.ServerName,
        ["state"] = new JsonArray([.. state.Select(p => p.DeepClone())]),
        ["auth_chain"] = new JsonArray([.. state.Select(p => p.DeepClone())]),
    };

    private static int BackfillRequests(RemoteHomeserver remote) => remote.Requests.Count(r => r.PathAndQuery.StartsWith(BackfillPath, StringComparison.Ordinal));

    private static IEnumerable<JsonObject> Chunk(JsonObject page) => (page["chunk"] as JsonArray ?? []).OfType<JsonObject>();

    private static string? Id(JsonObject e) => e["event_id"]?.GetValue<string>();

    private async Task<long> CountAsync(string sql, string value)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection) { Parameters = { new() { Value = value } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Paging_back_past_a_remote_join_fetches_the_history_checks_each_event_and_serves_it_in_the_rooms_order()
    {
        var (remote, keys) = await fixture.NewRemote();
        var room = FakeResidentRoom.Create(keys);
        var one = room.AddMessage("one");
        // Mallory never joined: the auth rules refuse her message whoever serves it.
        var mallory = room.Add($"@mallory:{keys.ServerName}", "m.room.message", null, new JsonObject { ["msgtype"] = "m.text", ["body"] = "let me in" },
            room.Id("m.room.create"), room.Id("m.room.power_levels"));
        var two = room.AddMessage("two");
        var badSignature = room.AddMessage("signed by no one");
        var badHash = room.AddMessage("three");
        var four = room.AddMessage("four");
        FakeResidentRoom.ServeJoin(remote, keys, room, state => StateOnly(keys, state));
        ServeBackfill(remote, keys, room, (id, pdu) =>
        {
            if (id == badSignature) pdu["signatures"]![keys.ServerName]![keys.Key.KeyId] = "AAAA";
            // The reference hash leaves out content, so the ID still matches; the content hash does not.
            if (id == badHash) pdu["content"]!["body"] = "tampered";
            return pdu;
        });

        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/join/{Uri.EscapeDataString(room.RoomId)}", new JsonObject());
        status.Should().Be(200, body.ToJsonString());
        var sync = await alice.SyncAsync();
        var joined = sync["rooms"]!["join"]![room.RoomId]!;
        var timeline = (joined["timeline"]!["events"] as JsonArray)!.OfType<JsonObject>().ToList();
        timeline.Select(e => e["type"]!.GetValue<string>()).Should().Equal(["m.room.member"], "the state the join brought is not history: only the join is");
        (joined["state"]!["events"] as JsonArray)!.OfType<JsonObject>().Select(e => e["type"]!.GetValue<string>())
            .Should().Contain(["m.room.create", "m.room.power_levels", "m.room.join_rules"]);
        var since = sync["next_batch"]!.GetValue<string>();
        BackfillRequests(remote).Should().Be(0, "nothing is fetched until a client pages back");

        (status, var page) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(room.RoomId)}/messages?dir=b&limit=50&from={joined["timeline"]!["prev_batch"]}");
        status.Should().Be(200, page.ToJsonString());
        var request = remote.Requests.First(r => r.PathAndQuery.StartsWith(BackfillPath, StringComparison.Ordinal));
        request.PathAndQuery.Should().Contain("v=" + Uri.EscapeDataString(four), "backfill starts at the join's prev events").And.Contain("limit=");
        var served = Chunk(page).ToList();
        served.Select(Id).Should().Equal([four, badHash, two, one, room.Id("m.room.join_rules"), room.Id("m.room.power_levels"),
            room.Id("m.room.member", room.Carol), room.Id("m.room.create")], "newest first, in the room's order, ending at the room's creation");
        served.Single(e => Id(e) == badHash)["content"]!.AsObject().Should().BeEmpty("an event whose content fails its hash is kept redacted");
        served.Single(e => Id(e) == two)["content"]!["body"]!.GetValue<string>().Should().Be("two");

        (await CountAsync("SELECT count(*) FROM room_dag_events WHERE event_id = $1 AND status = 'rejected'", mallory)).Should().Be(1);
        (await CountAsync("SELECT count(*) FROM events WHERE event_id = $1", mallory)).Should().Be(0, "a rejected event is never served");
        (await CountAsync("SELECT (SELECT count(*) FROM events WHERE event_id = $1) + (SELECT count(*) FROM room_dag_events WHERE event_id = $1)", badSignature))
            .Should().Be(0, "an event with a bad signature is dropped");

        // The gap the dropped event leaves is asked for again once, gives nothing new, and the history ends.
        for (var end = page["end"]?.GetValue<string>(); end is not null; end = page["end"]?.GetValue<string>())
        {
            (status, page) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(room.RoomId)}/messages?dir=b&limit=50&from={end}");
            status.Should().Be(200);
            Chunk(page).Should().BeEmpty();
        }

        // Forwards from the start, the same history, oldest first, then the join.
        (status, page) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(room.RoomId)}/messages?dir=f&limit=50");
        status.Should().Be(200);
        Chunk(page).Select(Id).Should().Equal([.. served.Select(Id).Reverse(), Id(timeline[0])]);

        var after = await alice.SyncAsync(since);
        (after["rooms"]?["join"]?[room.RoomId]?["timeline"]?["events"] as JsonArray ?? []).Should().BeEmpty("backfilled history is never news to /sync");
    }

    [Fact]
    public async Task A_resident_that_answers_backfill_with_garbage_gives_the_client_the_page_it_has_and_is_not_asked_again_at_once()
    {
        var (remote, keys) = await fixture.NewRemote();
        var room = FakeResidentRoom.Create(keys);
        room.AddMessage("before the join");
        FakeResidentRoom.ServeJoin(remote, keys, room, state => StateOnly(keys, state));
        remote.HandlePrefix(keys.ServerName, BackfillPath, FakeResidentRoom.Json(new JsonObject { ["pdus"] = "not a list" }));

        var alice = await MatrixClient.RegisteredAsync(fixture.BaseAddress);
        await alice.JoinAsync(room.RoomId);
        for (var i = 0; i < 2; i++)
        {
            var (status, page) = await alice.GetAsync($"/_matrix/client/v3/rooms/{Uri.EscapeDataString(room.RoomId)}/messages?dir=b&limit=10");
            status.Should().Be(200, page.ToJsonString());
            Chunk(page).Select(e => e["type"]!.GetValue<string>()).Should().Equal(["m.room.member"], "only the join is here");
        }
        BackfillRequests(remote).Should().Be(1, "a room that gave nothing is left alone for a while");
    }
}
