using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Protocol.StateResolution;

namespace Homeserver.Tests.Protocol.StateResolution;

/// <summary>
/// State resolution as data: each file in StateResolution/ is a small room DAG. The test computes
/// the state after each event the way a server does (the resolution of the states after its
/// prev_events, plus the event if it is state), then resolves the states after the "resolve" tips
/// and compares with "expected" (event IDs) or "expected_failure". "description" tells the story
/// and, in the v1 cases, "why" derives the expected state from the v1 rules.
/// </summary>
public sealed class StateResolutionCaseTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "StateResolution"), "*.json").Order())
        {
            data.Add(Path.GetFileNameWithoutExtension(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Resolves_as_the_case_expects(string name)
    {
        var testCase = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "StateResolution", name + ".json")))!.AsObject();
        RoomVersions.TryGet(testCase["room_version"]!.GetValue<string>(), out var version).Should().BeTrue();
        var events = testCase["events"]!.AsArray().Select(e => e!.AsObject()).ToDictionary(e => e["event_id"]!.GetValue<string>());
        foreach (var evt in events.Values) evt["room_id"] = "!room:a.org";
        EventLookup lookup = (id, _) => ValueTask.FromResult(events.TryGetValue(id, out var e) ? new StateEvent(e) : null);

        var after = new Dictionary<string, IReadOnlyDictionary<(string, string), string>>();
        async Task<IReadOnlyDictionary<(string, string), string>> StateAfter(string id)
        {
            if (after.TryGetValue(id, out var known)) return known;
            var evt = events[id];
            // Room versions 1 and 2 cite events as [event ID, hashes] pairs, later ones by ID alone.
            var prevs = evt["prev_events"]!.AsArray().Select(p => (p is JsonArray pair ? pair[0] : p)!.GetValue<string>()).ToList();
            var before = new List<IReadOnlyDictionary<(string, string), string>>();
            foreach (var prev in prevs) before.Add(await StateAfter(prev));
            var state = before.Count switch
            {
                0 => new Dictionary<(string, string), string>(),
                1 => new Dictionary<(string, string), string>(before[0]),
                _ => new Dictionary<(string, string), string>((await StateResolver.ResolveAsync(version, before, lookup)).State!),
            };
            if (evt["state_key"] is { } stateKey) state[(evt["type"]!.GetValue<string>(), stateKey.GetValue<string>())] = id;
            return after[id] = state;
        }

        var tips = new List<IReadOnlyDictionary<(string Type, string StateKey), string>>();
        foreach (var tip in testCase["resolve"]!.AsArray()) tips.Add(await StateAfter(tip!.GetValue<string>()));
        var result = await StateResolver.ResolveAsync(version, tips, lookup);

        if (testCase["expected_failure"] is { } failure)
        {
            result.Failure.ToString().Should().Be(failure.GetValue<string>(), result.Reason);
            result.State.Should().BeNull();
            return;
        }
        result.Succeeded.Should().BeTrue(result.Reason);
        var expected = testCase["expected"]!.AsArray().Select(id => id!.GetValue<string>())
            .ToDictionary(id => (events[id]["type"]!.GetValue<string>(), events[id]["state_key"]!.GetValue<string>()));
        result.State.Should().BeEquivalentTo(expected);
    }
}
