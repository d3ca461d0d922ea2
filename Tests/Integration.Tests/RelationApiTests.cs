using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

public sealed class RelationApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    [Fact]
    public async Task Threads_edits_reactions_and_context()
    {
        using var alice = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        using var bob = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await alice.RegisterAsync("a" + Guid.NewGuid().ToString("N")[..10], "pw");
        await bob.RegisterAsync("b" + Guid.NewGuid().ToString("N")[..10], "pw");
        var room = (await alice.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        await bob.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject());

        var root = await Send(alice, room, "root", new JsonObject { ["msgtype"] = "m.text", ["body"] = "thread root" });
        var reply1 = await Send(bob, room, "t1", Relates(root, "m.thread", "first reply"));
        var edit = await Send(alice, room, "e1", new JsonObject
        {
            ["msgtype"] = "m.text", ["body"] = "* thread root (edited)",
            ["m.new_content"] = new JsonObject { ["msgtype"] = "m.text", ["body"] = "thread root (edited)" },
            ["m.relates_to"] = new JsonObject { ["rel_type"] = "m.replace", ["event_id"] = root },
        });
        var reaction = await Send(bob, room, "r1", new JsonObject
        {
            ["m.relates_to"] = new JsonObject { ["rel_type"] = "m.annotation", ["event_id"] = root, ["key"] = "👍" },
        }, "m.reaction");
        var reply2 = await Send(alice, room, "t2", Relates(root, "m.thread", "second reply"));

        var all = (await bob.GetAsync($"/_matrix/client/v1/rooms/{room}/relations/{root}?limit=10")).Body["chunk"]!.AsArray();
        all.Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal(reply2, reaction, edit, reply1);
        var thread = (await bob.GetAsync($"/_matrix/client/v1/rooms/{room}/relations/{root}/m.thread?dir=f")).Body["chunk"]!.AsArray();
        thread.Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal(reply1, reply2);
        var reactions = (await bob.GetAsync($"/_matrix/client/v1/rooms/{room}/relations/{root}/m.annotation/m.reaction")).Body["chunk"]!.AsArray();
        reactions.Single()!["content"]!["m.relates_to"]!["key"]!.GetValue<string>().Should().Be("👍");
        var paged = (await bob.GetAsync($"/_matrix/client/v1/rooms/{room}/relations/{root}?limit=2")).Body;
        var rest = (await bob.GetAsync($"/_matrix/client/v1/rooms/{room}/relations/{root}?limit=10&from={paged["next_batch"]}")).Body["chunk"]!.AsArray();
        rest.Select(e => e!["event_id"]!.GetValue<string>()).Should().Equal(edit, reply1);

        var threads = (await bob.GetAsync($"/_matrix/client/v1/rooms/{room}/threads")).Body["chunk"]!.AsArray();
        var summary = threads.Single()!;
        summary["event_id"]!.GetValue<string>().Should().Be(root);
        summary["unsigned"]!["m.relations"]!["m.thread"]!["count"]!.GetValue<int>().Should().Be(2);
        summary["unsigned"]!["m.relations"]!["m.thread"]!["latest_event"]!["event_id"]!.GetValue<string>().Should().Be(reply2);

        var context = (await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/context/{edit}?limit=2")).Body;
        context["event"]!["event_id"]!.GetValue<string>().Should().Be(edit);
        context["events_before"]!.AsArray().Single()!["event_id"]!.GetValue<string>().Should().Be(reply1);
        context["events_after"]!.AsArray().Single()!["event_id"]!.GetValue<string>().Should().Be(reaction);
        context["state"]!.AsArray().Should().Contain(e => e!["type"]!.GetValue<string>() == "m.room.create");
    }

    private static JsonObject Relates(string root, string relType, string body) => new()
    {
        ["msgtype"] = "m.text",
        ["body"] = body,
        ["m.relates_to"] = new JsonObject { ["rel_type"] = relType, ["event_id"] = root },
    };

    private static async Task<string> Send(MatrixClient client, string room, string txn, JsonObject content, string type = "m.room.message")
    {
        var (status, body) = await client.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{room}/send/{type}/{txn}", content.ToJsonString());
        status.Should().Be(200, body.ToJsonString());
        return body["event_id"]!.GetValue<string>();
    }
}
