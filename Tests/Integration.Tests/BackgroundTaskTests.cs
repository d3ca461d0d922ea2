using System.Text.Json.Nodes;
using Homeserver.Silo.BackgroundTasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>The housekeeping on <c>run_background_tasks_on</c>: old rows go, nothing a client still reads does.</summary>
public sealed class BackgroundTaskTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{

    [Fact]
    public void Only_the_process_named_by_run_background_tasks_on_runs_them()
    {
        var cluster = fixture.Cluster;
        cluster.Silos[0].Services.GetService<BackgroundTaskRunner>().Should().NotBeNull();
        cluster.Silos[1].Services.GetService<BackgroundTaskRunner>().Should().BeNull();
        cluster.ApiHosts[0].Services.GetService<BackgroundTaskRunner>().Should().BeNull();
    }

    [Fact]
    public async Task Old_read_notifications_transaction_ids_and_cache_rows_are_pruned_and_unread_counts_stay()
    {
        using var alice = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        using var bob = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);
        var sent = new List<string>();
        for (var i = 0; i < 3; i++) sent.Add(await bob.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = $"hello {i}" }));
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{room}/receipt/m.read/{sent[1]}", new JsonObject())).Status.Should().Be(200);
        (await bob.PutAsync($"/_matrix/client/v3/sendToDevice/m.test/{Guid.NewGuid():N}",
            new JsonObject { ["messages"] = new JsonObject { [alice.UserId] = new JsonObject { ["*"] = new JsonObject() } } })).Status.Should().Be(200);
        using var bobElsewhere = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await bobElsewhere.LoginAsync(bob.UserId, "pw");
        (await bobElsewhere.PostAsync("/_matrix/client/v3/logout", new JsonObject())).Status.Should().Be(200);
        var unreadBefore = UnreadIn(await alice.SyncAsync(), room);
        unreadBefore.Should().Be(1, "the third message is after alice's receipt");

        // Everything these users wrote becomes 40 days old; a fresh message after it stays young.
        var old = DateTimeOffset.UtcNow.AddDays(-40).ToUnixTimeMilliseconds();
        await ExecuteAsync("UPDATE event_push_actions SET created_ts = $1 WHERE user_id = $2", old, alice.UserId);
        await ExecuteAsync("UPDATE event_txn_ids SET created_ts = $1 WHERE user_id = $2", old, bob.UserId);
        await ExecuteAsync("UPDATE to_device_transactions SET created_ts = $1 WHERE user_id = $2", old, bob.UserId);
        await ExecuteAsync("UPDATE cache_invalidations SET created_ts = $1 WHERE cache_key = $2", old, bob.UserId);
        var fresh = await bob.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "fresh" });
        var read = await CountAsync("SELECT count(*) FROM event_push_actions WHERE user_id = $1 AND stream_ordering <= " +
            "(SELECT stream_ordering FROM events WHERE event_id = $2)", alice.UserId, sent[1]);
        read.Should().BeGreaterThanOrEqualTo(2);

        var runner = fixture.Cluster.Silos[0].Services.GetRequiredService<BackgroundTaskRunner>();
        var deleted = await runner.RunOnceAsync(DateTimeOffset.UtcNow, CancellationToken.None);

        deleted["prune_push_actions"].Should().Be(read, "only the old notifications alice has read");
        (await CountAsync("SELECT count(*) FROM event_push_actions WHERE user_id = $1", alice.UserId)).Should().Be(2, "the unread old one and the fresh one");
        (await CountAsync("SELECT count(*) FROM event_txn_ids WHERE user_id = $1", bob.UserId)).Should().Be(1, "the fresh message's");
        (await CountAsync("SELECT count(*) FROM to_device_transactions WHERE user_id = $1", bob.UserId)).Should().Be(0);
        (await CountAsync("SELECT count(*) FROM cache_invalidations WHERE cache_key = $1", bob.UserId)).Should().Be(0);
        deleted["prune_event_txn_ids"].Should().BeGreaterThanOrEqualTo(3);
        UnreadIn(await alice.SyncAsync(), room).Should().Be(2, "pruning never changes a count: the old unread one and the fresh one");
        (await alice.GetAsync("/_matrix/client/v3/notifications")).Body["notifications"]!.AsArray()
            .Select(n => n!["event"]!["event_id"]!.GetValue<string>()).Should().Equal(fresh, sent[2]);
    }

    private static int UnreadIn(JsonObject sync, string room) =>
        sync["rooms"]!["join"]![room]!["unread_notifications"]!["notification_count"]!.GetValue<int>();

    private async Task ExecuteAsync(string sql, params object[] values)
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> CountAsync(string sql, params object[] values)
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
