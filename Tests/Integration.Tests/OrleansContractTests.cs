using System.Reflection;
using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Interfaces.Typing;
using Homeserver.Grains.Typing;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Serialization;

namespace Homeserver.Tests.Integration;

/// <summary>What the grain contracts promise across processes: messages, event content and Matrix errors arrive intact; roles hold.</summary>
public sealed class OrleansContractTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private const string Alice = "@alice:test.local";

    [Fact]
    public void Event_content_survives_the_wire_exactly()
    {
        var serializer = fixture.Cluster.ApiHosts[0].Services.GetRequiredService<Serializer>();
        var content = JsonNode.Parse("""
            {"body":"héllo 🐱","n":9007199254740991,"neg":-5,"nested":{"a":[1,"two",null,true,{"x":[]}]},"empty":{}}
            """)!.AsObject();
        var command = new SendEventCommand(Alice, "m.room.message", null, content, new ClientTransaction("D", "t"));

        var copy = serializer.Deserialize<SendEventCommand>(serializer.SerializeToArray(command));

        copy!.Content.ToJsonString().Should().Be(content.ToJsonString());
        copy.Should().BeEquivalentTo(command, o => o.Excluding(c => c.Content));
    }

    [Fact]
    public void Every_message_type_of_the_grain_interfaces_has_a_generated_codec()
    {
        var serializer = fixture.Cluster.ApiHosts[0].Services.GetRequiredService<Serializer>();
        var messages = typeof(SendEventCommand).Assembly.GetTypes()
            .Where(t => t.GetCustomAttribute<GenerateSerializerAttribute>() is not null && !t.IsGenericTypeDefinition).ToList();
        messages.Should().NotBeEmpty();
        foreach (var type in messages)
        {
            serializer.CanSerialize(type).Should().BeTrue($"{type.Name} crosses processes");
            type.GetCustomAttribute<AliasAttribute>().Should().NotBeNull($"{type.Name} keeps its wire name across renames");
        }
    }

    [Fact]
    public async Task A_matrix_error_raised_on_a_silo_keeps_its_status_and_errcode_at_the_api_host()
    {
        var missing = fixture.Cluster.GrainFactory.GetGrain<IRoomGrain>(TwoSiloClusterFixture.NewRoomId());
        var send = () => missing.SendEventAsync(new SendEventCommand(Alice, "m.room.message", null, new JsonObject(), null));

        var error = (await send.Should().ThrowAsync<MatrixException>()).Which;
        error.StatusCode.Should().Be(404);
        error.ErrCode.Should().Be("M_NOT_FOUND");
        error.Error.Should().Contain("does not exist");
    }

    [Fact]
    public async Task A_single_writer_role_never_activates_on_a_silo_without_it()
    {
        var rooms = Enumerable.Range(0, 20).Select(_ => TwoSiloClusterFixture.NewRoomId()).ToList();
        foreach (var room in rooms) await fixture.Cluster.GrainFactory.GetGrain<ITypingGrain>(room).SetTypingAsync(Alice, true, 1000);

        var statistics = await fixture.Cluster.GrainFactory.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var typing = statistics.Where(s => rooms.Contains(s.GrainId.Key.ToString()!) && s.GrainType.Contains(nameof(TypingGrain))).ToList();
        typing.Should().HaveCount(rooms.Count);
        typing.Should().OnlyContain(s => s.SiloAddress.Equals(fixture.Cluster.Silos[0].Handle.SiloAddress), "typing is written by silo1 alone");
    }
}
