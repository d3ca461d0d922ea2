using System.Text.Json.Nodes;
using Homeserver.Grains.EndToEnd;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Storage.EndToEnd;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>When received device-list updates can be applied to our copy and when the whole list must be fetched, as a table of small sequences.</summary>
public sealed class DeviceListChainTests
{
    private static RemoteDeviceListUpdate Update(long streamId, params long[] prev) => new("D", streamId, prev, false, new JsonObject());

    public static TheoryData<string, long?, bool, long[], long[][], bool> Cases => new()
    {
        // name, extremity (null: never seen), stale, seen since the last resync, updates (stream_id then prev_ids), resync?
        { "never seen", null, false, [], [[5]], true },
        { "follows the extremity", 5, false, [], [[6, 5]], false },
        { "follows an earlier update of the batch", 5, false, [], [[6, 5], [7, 6]], false },
        { "follows an update seen since the resync", 7, false, [6], [[8, 6]], false },
        { "a gap", 5, false, [], [[9, 8]], true },
        { "one of two prev_ids unknown", 5, false, [], [[9, 5, 8]], true },
        { "no prev_id", 5, false, [], [[6]], true },
        { "a repeat of the extremity", 5, false, [], [[5]], false },
        { "stale after a failed resync", 5, true, [], [[6, 5]], true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resyncs_only_when_an_update_does_not_follow_what_is_known(string name, long? extremity, bool stale, long[] seen, long[][] updates, bool resync)
    {
        var known = extremity is { } e ? new RemoteDeviceListExtremity(e, stale) : null;
        DeviceListChain.NeedsResync(known, seen.ToHashSet(), updates.Select(u => Update(u[0], u[1..])).ToList()).Should().Be(resync, name);
    }

    /// <summary>As it comes off the wire: numbers built in C# would not read back as longs.</summary>
    private static JsonNode Wire(JsonNode node) => JsonNode.Parse(node.ToJsonString())!;

    [Fact]
    public void A_snapshot_is_taken_only_for_the_user_asked_about_with_a_bounded_device_list_and_only_the_spec_fields()
    {
        const string user = "@bob:remote.test";
        var device = new JsonObject { ["device_id"] = "D1", ["keys"] = new JsonObject { ["device_id"] = "D1" }, ["device_display_name"] = "phone", ["extra"] = 1 };
        var answer = new JsonObject { ["user_id"] = user, ["stream_id"] = 7, ["devices"] = new JsonArray(device, 42, new JsonObject()), ["master_key"] = new JsonObject() };
        var snapshot = DeviceListChain.ParseSnapshot(Wire(answer), user)!;
        snapshot.StreamId.Should().Be(7);
        snapshot.Devices.Should().ContainSingle().Which.DeviceId.Should().Be("D1");
        JsonNode.Parse(snapshot.Devices[0].ContentJson)!.AsObject().Select(kv => kv.Key).Should().BeEquivalentTo(["device_id", "keys", "device_display_name"]);
        snapshot.CrossSigningJson.Should().Contain("master_key");

        DeviceListChain.ParseSnapshot(Wire(answer), "@someone.else:remote.test").Should().BeNull();
        DeviceListChain.ParseSnapshot(Wire(new JsonObject { ["user_id"] = user, ["stream_id"] = "7", ["devices"] = new JsonArray() }), user).Should().BeNull();
        var many = new JsonArray([.. Enumerable.Range(0, DeviceListChain.MaxDevices + 1).Select(i => (JsonNode)new JsonObject { ["device_id"] = $"D{i}" })]);
        DeviceListChain.ParseSnapshot(Wire(new JsonObject { ["user_id"] = user, ["stream_id"] = 1, ["devices"] = many }), user).Should().BeNull();
        DeviceListChain.ParseSnapshot(JsonValue.Create(3), user).Should().BeNull();
    }
}
