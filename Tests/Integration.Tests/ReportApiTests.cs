using System.Text.Json.Nodes;
using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>Spec "Reporting content": events (reporter joined), rooms (v1.13) and users (v1.14), kept in content_reports.</summary>
public sealed class ReportApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    private async Task<List<(string? Room, string? Event, string? User, string? Reason)>> ReportsByAsync(string reporter)
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT room_id, event_id, target_user_id, reason FROM content_reports WHERE reporter = $1 ORDER BY id", connection);
        command.Parameters.Add(new() { Value = reporter });
        var rows = new List<(string?, string?, string?, string?)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }
        return rows;
    }

    [Fact]
    public async Task Events_rooms_and_users_can_be_reported_and_bad_reports_are_refused()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        using var stranger = NewClient();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await stranger.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);
        var message = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "rude" });
        var rooms = $"/_matrix/client/v3/rooms/{room}";

        (await bob.PostAsync($"{rooms}/report/{message}", new JsonObject { ["reason"] = "this makes me sad", ["score"] = -100 })).Status.Should().Be(200);
        (await bob.PostAsync($"/_matrix/client/r0/rooms/{room}/report/{message}", new JsonObject())).Status.Should().Be(200, "reason is optional for events");
        (await bob.PostAsync($"{rooms}/report", new JsonObject { ["reason"] = "" })).Status.Should().Be(200, "a room report's reason may be blank");
        (await bob.PostAsync($"/_matrix/client/v3/users/{Uri.EscapeDataString(alice.UserId!)}/report", new JsonObject { ["reason"] = "spam" }))
            .Status.Should().Be(200);

        async Task<(int, string?)> Refused(MatrixClient client, string path, JsonObject body)
        {
            var (status, answer) = await client.PostAsync(path, body);
            return (status, answer["errcode"]?.GetValue<string>());
        }
        (await Refused(stranger, $"{rooms}/report/{message}", new JsonObject { ["reason"] = "x" })).Should().Be((404, "M_NOT_FOUND"), "the reporter must be joined");
        (await Refused(bob, $"{rooms}/report/$nosuchevent", new JsonObject { ["reason"] = "x" })).Should().Be((404, "M_NOT_FOUND"));
        (await Refused(bob, $"{rooms}/report/{message}", new JsonObject { ["reason"] = 5 })).Should().Be((400, "M_BAD_JSON"));
        (await Refused(bob, $"{rooms}/report/{message}", new JsonObject { ["score"] = "high" })).Should().Be((400, "M_BAD_JSON"));
        (await Refused(bob, $"{rooms}/report", new JsonObject())).Should().Be((400, "M_MISSING_PARAM"));
        (await Refused(bob, $"/_matrix/client/v3/rooms/!nosuchroom:test.local/report", new JsonObject { ["reason"] = "x" })).Should().Be((404, "M_NOT_FOUND"));
        (await Refused(bob, $"/_matrix/client/v3/users/{Uri.EscapeDataString("@nobody-here:test.local")}/report", new JsonObject { ["reason"] = "x" }))
            .Should().Be((404, "M_NOT_FOUND"));
        (await Refused(bob, "/_matrix/client/v3/users/not-a-user/report", new JsonObject { ["reason"] = "x" })).Should().Be((400, "M_INVALID_PARAM"));
        (await Refused(stranger, $"{rooms}/report", new JsonObject { ["reason"] = "x" })).Item1.Should().Be(200, "rooms may be reported by anyone");

        var stored = await ReportsByAsync(bob.UserId!);
        stored.Should().Equal(
            (room, message, null, "this makes me sad"),
            (room, message, null, null),
            (room, null, null, ""),
            (null, null, alice.UserId, "spam"));
    }
}
