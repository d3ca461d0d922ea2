using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Protocol.StateResolution;

namespace Homeserver.Tests.Protocol.StateResolution;

/// <summary>The v1 rules one at a time: ordering and its tie-breaks, what counts as a conflict, the passes, what is loaded.</summary>
public sealed class StateResolutionV1Tests
{
    private const string Alice = "@alice:a.org";
    private const string Bob = "@bob:a.org";
    private const string Carol = "@carol:b.org";
    private static readonly RoomVersion V1 = Version("1");

    private static RoomVersion Version(string id)
    {
        RoomVersions.TryGet(id, out var version).Should().BeTrue();
        return version;
    }

    private static JsonObject Event(string type, string stateKey, string sender, long depth, string content, params string[] prevEvents) => new()
    {
        ["type"] = type, ["state_key"] = stateKey, ["sender"] = sender, ["origin_server_ts"] = depth, ["depth"] = depth,
        ["content"] = JsonNode.Parse(content), ["prev_events"] = new JsonArray(prevEvents.Select(p => (JsonNode)p).ToArray()),
        ["auth_events"] = new JsonArray(),
    };

    private static JsonObject Member(string target, string sender, string membership, long depth) =>
        Event("m.room.member", target, sender, depth, $$"""{"membership":"{{membership}}"}""", "$prev");

    /// <summary>A room where Alice (100) created and joined, Bob (50) joined, the room is public; kick and ban need 50.</summary>
    private static Dictionary<string, JsonObject> Room() => new()
    {
        ["$create"] = Event("m.room.create", "", Alice, 1, $$"""{"creator":"{{Alice}}"}"""),
        ["$a_join"] = Member(Alice, Alice, "join", 2),
        ["$pl"] = Event("m.room.power_levels", "", Alice, 3, $$$"""{"users":{"{{{Alice}}}":100,"{{{Bob}}}":50},"state_default":50,"kick":50,"ban":50}"""),
        ["$jr"] = Event("m.room.join_rules", "", Alice, 4, """{"join_rule":"public"}"""),
        ["$b_join"] = Member(Bob, Bob, "join", 5),
    };

    private static Dictionary<(string, string), string> State(Dictionary<string, JsonObject> events, params string[] ids) =>
        ids.ToDictionary(id => (events[id]["type"]!.GetValue<string>(), events[id]["state_key"]!.GetValue<string>()));

    private static Dictionary<(string, string), string> RoomState(Dictionary<string, JsonObject> events, params string[] more) =>
        State(events, ["$create", "$a_join", "$pl", "$jr", "$b_join", .. more]);

    private static Task<StateResolutionResult> Resolve(Dictionary<string, JsonObject> events, List<string>? looked,
        params Dictionary<(string, string), string>[] stateSets) =>
        StateResolver.ResolveAsync(V1, stateSets, (id, _) =>
        {
            looked?.Add(id);
            return ValueTask.FromResult(events.TryGetValue(id, out var e) ? new StateEvent(e) : null);
        });

    private static async Task<EventGraph> Load(Dictionary<string, JsonObject> events)
    {
        var (graph, failure) = await EventGraph.LoadAsync(events.Keys, followAuthEvents: false,
            (id, _) => ValueTask.FromResult<StateEvent?>(new StateEvent(events[id])), StateResolutionLimits.Default, default);
        failure.Should().BeNull();
        return graph!;
    }

    [Theory]
    [InlineData("1", StateResolutionAlgorithm.V1)]
    [InlineData("2", StateResolutionAlgorithm.V2)]
    [InlineData("10", StateResolutionAlgorithm.V2)]
    [InlineData("11", StateResolutionAlgorithm.V2)]
    public void Only_room_version_1_uses_the_v1_algorithm(string version, StateResolutionAlgorithm expected)
    {
        Version(version).StateResolution.Should().Be(expected);
        RoomVersions.All.Count(v => v.StateResolution == StateResolutionAlgorithm.V1).Should().Be(1);
    }

    [Fact]
    public void The_sha1_tie_break_is_the_lower_case_hex_digest_of_the_utf8_id() =>
        DepthOrdering.Sha1Hex("abc").Should().Be("a9993e364706816aba3e25717850c26c9cd0d89d");

    [Fact]
    public async Task Depth_ordering_puts_the_deepest_first_then_the_lowest_sha1()
    {
        // sha1: $c 2b45..., $d 5df2..., $b 773e..., $a c1cb..., an order unlike the IDs' own.
        var events = new Dictionary<string, JsonObject>
        {
            ["$a"] = Event("m.room.topic", "", Alice, 2, "{}"),
            ["$b"] = Event("m.room.topic", "", Alice, 1, "{}"),
            ["$c"] = Event("m.room.topic", "", Alice, 1, "{}"),
            ["$d"] = Event("m.room.topic", "", Alice, 2, "{}"),
        };
        var graph = await Load(events);

        DepthOrdering.Sort(events.Keys.Select(id => graph[id])).Select(e => e.Id).Should().Equal("$d", "$a", "$c", "$b");
    }

    [Fact]
    public void Only_keys_with_two_different_events_are_conflicted()
    {
        var first = new Dictionary<(string, string), string> { [("a", "")] = "$1", [("b", "")] = "$2", [("c", "")] = "$3" };
        var second = new Dictionary<(string, string), string> { [("a", "")] = "$1", [("b", "")] = "$4" };

        var (unconflicted, conflicted) = StateResolverV1.Split([first, second]);

        unconflicted.Should().BeEquivalentTo(new Dictionary<(string, string), string> { [("a", "")] = "$1", [("c", "")] = "$3" });
        conflicted.Keys.Should().BeEquivalentTo([("b", "")]);
        conflicted[("b", "")].Should().BeEquivalentTo(["$2", "$4"]);
    }

    [Fact]
    public async Task Power_levels_at_equal_depth_end_on_the_lower_sha1_when_both_pass()
    {
        // Ascending depth then descending sha1: $pl_y (8557...) is taken first, then $pl_x (2e00...) replaces it.
        var events = Room();
        events["$pl_x"] = Event("m.room.power_levels", "", Alice, 6, $$$"""{"users":{"{{{Alice}}}":100}}""");
        events["$pl_y"] = Event("m.room.power_levels", "", Alice, 6, $$$"""{"users":{"{{{Alice}}}":100}}""");
        var state = RoomState(events);

        var result = await Resolve(events, null, state.With(("m.room.power_levels", ""), "$pl_x"), state.With(("m.room.power_levels", ""), "$pl_y"));

        result.State![("m.room.power_levels", "")].Should().Be("$pl_x");
    }

    [Fact]
    public async Task An_auth_key_takes_its_oldest_candidate_unchecked()
    {
        // Carol's join (depth 6) would fail in an invite-only room, and is kept all the same: the spec
        // adds the first event to R as it is, and the only other candidate, a ban by Carol, who is not
        // joined in R, fails rule 6.6.1.
        var events = Room();
        events["$jr"] = Event("m.room.join_rules", "", Alice, 4, """{"join_rule":"invite"}""");
        events["$c_join"] = Member(Carol, Carol, "join", 6);
        events["$c_ban"] = Member(Carol, Carol, "ban", 7);
        var state = RoomState(events);

        var result = await Resolve(events, null, State(events, "$c_join").Merged(state), State(events, "$c_ban").Merged(state));

        result.State![("m.room.member", Carol)].Should().Be("$c_join");
    }

    [Fact]
    public async Task Other_keys_take_the_oldest_candidate_when_none_passes()
    {
        // Neither topic's sender is joined (rule 7), so Synapse's fallback applies: the last in the order, the shallowest.
        var events = Room();
        events["$t_old"] = Event("m.room.topic", "", Carol, 6, "{}");
        events["$t_new"] = Event("m.room.topic", "", Carol, 7, "{}");
        var state = RoomState(events);

        var result = await Resolve(events, null, State(events, "$t_old").Merged(state), State(events, "$t_new").Merged(state));

        result.State![("m.room.topic", "")].Should().Be("$t_old");
    }

    [Fact]
    public async Task Memberships_are_checked_against_the_state_before_the_membership_pass()
    {
        // Bob's membership conflicts too (a join and a later join with a display name), so it is not in
        // R while Carol's is resolved: Bob's kick fails rule 6.5.2 although Bob ends up joined.
        var events = Room();
        events["$b_join2"] = Event("m.room.member", Bob, Bob, 8, """{"membership":"join","displayname":"B"}""", "$prev");
        events["$c_join"] = Member(Carol, Carol, "join", 6);
        events["$kick"] = Member(Carol, Bob, "leave", 7);
        var state = RoomState(events, "$c_join");
        var other = State(events, "$create", "$a_join", "$pl", "$jr", "$b_join2", "$kick");

        var result = await Resolve(events, null, state, other);

        result.State![("m.room.member", Bob)].Should().Be("$b_join2");
        result.State![("m.room.member", Carol)].Should().Be("$c_join");
    }

    [Fact]
    public async Task V1_loads_the_conflicted_events_and_the_state_their_checks_read_and_nothing_else()
    {
        var events = Room();
        events["$name"] = Event("m.room.name", "", Alice, 6, "{}");
        events["$c_join"] = Member(Carol, Carol, "join", 6);
        events["$t1"] = Event("m.room.topic", "", Bob, 7, "{}");
        events["$t2"] = Event("m.room.topic", "", Alice, 7, "{}");
        // An auth event that is not available: v1 never follows auth_events, so it is never asked for.
        events["$t1"]["auth_events"] = new JsonArray("$unknown");
        var state = RoomState(events, "$name", "$c_join");
        var looked = new List<string>();

        var result = await Resolve(events, looked, State(events, "$t1").Merged(state), State(events, "$t2").Merged(state));

        result.Succeeded.Should().BeTrue(result.Reason);
        looked.Should().BeEquivalentTo(["$t1", "$t2", "$create", "$pl", "$a_join", "$b_join"]);
    }

    [Fact]
    public async Task V1_fails_on_a_missing_conflicted_event_or_past_the_event_budget()
    {
        var events = Room();
        events["$t1"] = Event("m.room.topic", "", Alice, 6, "{}");
        var first = RoomState(events, "$t1");
        var second = RoomState(events).With(("m.room.topic", ""), "$gone");

        (await Resolve(events, null, first, second)).Failure.Should().Be(StateResolutionFailure.MissingEvent);

        events["$t2"] = Event("m.room.topic", "", Alice, 6, "{}");
        var tooMany = await StateResolver.ResolveAsync(V1, [first, RoomState(events, "$t2")],
            (id, _) => ValueTask.FromResult<StateEvent?>(new StateEvent(events[id])), new StateResolutionLimits(MaxEvents: 2));
        tooMany.Failure.Should().Be(StateResolutionFailure.TooManyEvents);
    }

    [Fact]
    public async Task V1_refuses_a_state_set_that_maps_a_key_to_another_event_type()
    {
        var events = Room();
        events["$t1"] = Event("m.room.topic", "", Alice, 6, "{}");
        var state = RoomState(events);

        var result = await Resolve(events, null, state.With(("m.room.name", ""), "$t1"), state.With(("m.room.name", ""), "$jr"));

        result.Failure.Should().Be(StateResolutionFailure.MalformedEvent);
    }
}

internal static class StateSetExtensions
{
    public static Dictionary<(string, string), string> With(this Dictionary<(string, string), string> state, (string, string) key, string id) =>
        new(state) { [key] = id };

    public static Dictionary<(string, string), string> Merged(this Dictionary<(string, string), string> state, Dictionary<(string, string), string> more)
    {
        var merged = new Dictionary<(string, string), string>(more);
        foreach (var (key, id) in state) merged[key] = id;
        return merged;
    }
}
