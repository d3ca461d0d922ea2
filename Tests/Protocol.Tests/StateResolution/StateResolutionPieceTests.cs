using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Protocol.StateResolution;

namespace Homeserver.Tests.Protocol.StateResolution;

/// <summary>The pieces of v2 resolution on their own: power ordering tie-breaks, auth difference, mainline positions, limits.</summary>
public sealed class StateResolutionPieceTests
{
    private const string Alice = "@alice:a.org";
    private const string Bob = "@bob:a.org";
    private static readonly RoomVersion V10 = RoomVersions.Default;

    private static JsonObject Event(string type, string stateKey, string sender, long ts, string content, params string[] authEvents) => new()
    {
        ["type"] = type, ["state_key"] = stateKey, ["sender"] = sender, ["origin_server_ts"] = ts, ["depth"] = 1,
        ["content"] = JsonNode.Parse(content), ["prev_events"] = new JsonArray(), ["auth_events"] = new JsonArray(authEvents.Select(a => (JsonNode)a).ToArray()),
    };

    // A create event, and power levels giving Alice 100 and Bob 50.
    private static Dictionary<string, JsonObject> Room() => new()
    {
        ["C"] = Event("m.room.create", "", Alice, 1, $$"""{"creator":"{{Alice}}"}"""),
        ["P"] = Event("m.room.power_levels", "", Alice, 2, $$$"""{"users":{"{{{Alice}}}":100,"{{{Bob}}}":50}}""", "C"),
    };

    private static async Task<EventGraph> Load(Dictionary<string, JsonObject> events, StateResolutionLimits? limits = null)
    {
        var (graph, failure) = await EventGraph.LoadAsync(events.Keys, followAuthEvents: true,
            (id, _) => ValueTask.FromResult(events.TryGetValue(id, out var e) ? new StateEvent(e) : null), limits ?? StateResolutionLimits.Default, default);
        failure.Should().BeNull();
        return graph!;
    }

    [Fact]
    public async Task Power_ordering_puts_ancestors_first_then_higher_power_then_older_then_smaller_id()
    {
        var events = Room();
        events["bob_old"] = Event("m.room.topic", "", Bob, 5, "{}", "C", "P");
        events["alice_new"] = Event("m.room.topic", "", Alice, 9, "{}", "C", "P");
        events["alice_b"] = Event("m.room.name", "", Alice, 7, "{}", "C", "P");
        events["alice_a"] = Event("m.room.name", "", Alice, 7, "{}", "C", "P");
        var graph = await Load(events);

        var order = PowerOrdering.Sort(graph, events.Keys.ToHashSet(), V10)!.Select(e => e.Id);

        order.Should().Equal("C", "P", "alice_a", "alice_b", "alice_new", "bob_old");
    }

    [Fact]
    public async Task Power_ordering_reports_a_cycle()
    {
        var events = Room();
        events["x"] = Event("m.room.topic", "", Alice, 5, "{}", "C", "y");
        events["y"] = Event("m.room.topic", "", Alice, 6, "{}", "C", "x");
        var graph = await Load(events);

        PowerOrdering.Sort(graph, events.Keys.ToHashSet(), V10).Should().BeNull();
    }

    [Fact]
    public async Task Auth_difference_is_the_union_of_full_auth_chains_minus_their_intersection()
    {
        var events = Room();
        events["P2"] = Event("m.room.power_levels", "", Alice, 3, "{}", "C", "P");
        events["t1"] = Event("m.room.topic", "", Alice, 4, "{}", "C", "P2");
        events["t2"] = Event("m.room.topic", "", Alice, 4, "{}", "C", "P");
        var graph = await Load(events);
        var first = new Dictionary<(string, string), string> { [("m.room.topic", "")] = "t1" };
        var second = new Dictionary<(string, string), string> { [("m.room.topic", "")] = "t2" };

        StateResolverV2.AuthDifference(graph, [first, second]).Should().BeEquivalentTo(["P2"]);
    }

    [Fact]
    public async Task Mainline_position_is_where_the_power_level_chain_meets_the_mainline_or_infinity()
    {
        var events = Room();
        events["P2"] = Event("m.room.power_levels", "", Alice, 3, "{}", "C", "P");
        events["P_side"] = Event("m.room.power_levels", "", Alice, 3, "{}", "C", "P");
        events["on_p2"] = Event("m.room.topic", "", Alice, 4, "{}", "C", "P2");
        events["on_side"] = Event("m.room.topic", "", Alice, 4, "{}", "C", "P_side");
        events["no_power"] = Event("m.room.topic", "", Alice, 4, "{}", "C");
        var graph = await Load(events);
        var mainline = MainlineOrdering.Mainline(graph, "P2");

        mainline.Should().BeEquivalentTo(new Dictionary<string, int> { ["P2"] = 0, ["P"] = 1 });
        MainlineOrdering.Position(graph, mainline, graph["on_p2"]).Should().Be(0);
        MainlineOrdering.Position(graph, mainline, graph["on_side"]).Should().Be(1);
        MainlineOrdering.Position(graph, mainline, graph["no_power"]).Should().Be(int.MaxValue);
        MainlineOrdering.Sort(graph, "P2", [graph["on_p2"], graph["no_power"], graph["on_side"]]).Select(e => e.Id)
            .Should().Equal("no_power", "on_side", "on_p2");
    }

    [Fact]
    public async Task A_graph_past_the_event_budget_fails_without_loading_it_all()
    {
        var events = Room();
        var looked = 0;
        var set = new Dictionary<(string, string), string> { [("m.room.power_levels", "")] = "P" };
        var result = await StateResolver.ResolveAsync(V10, [set, new Dictionary<(string, string), string>()],
            (id, _) => { looked++; return ValueTask.FromResult<StateEvent?>(new StateEvent(events[id])); }, new StateResolutionLimits(MaxEvents: 1));

        result.Failure.Should().Be(StateResolutionFailure.TooManyEvents);
        looked.Should().Be(1);
    }
}
