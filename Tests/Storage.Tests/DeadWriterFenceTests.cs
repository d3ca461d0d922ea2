using Homeserver.Storage;
using Homeserver.Storage.Migrations;
using Homeserver.Storage.Streams;
using Homeserver.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Homeserver.Tests.Storage;

public sealed class DeadWriterFenceTests
{
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 0)]
    public async Task Fencing_a_dead_silo_ends_only_its_sessions_and_marks_its_positions_idle_unless_a_successor_runs(
        bool successorRunning, int expectedRows)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await new MigrationRunner(dataSource, new StorageLog(NullLogger<StorageLog>.Instance)).ApplyAsync();
        await using (var seed = dataSource.CreateCommand(
            "INSERT INTO stream_positions (stream_name, instance_name, position) VALUES ('events', 'silo2', 7), ('events', 'silo1', 9)"))
        {
            await seed.ExecuteNonQueryAsync();
        }
        // A frozen silo's open session (this incarnation), and a restarted successor's and another silo's, which must survive.
        await using var frozen = await OpenAsAsync(database.ConnectionString, StorageSessionName.For("silo2", 41));
        await using var successor = await OpenAsAsync(database.ConnectionString, StorageSessionName.For("silo2", 42));
        await using var other = await OpenAsAsync(database.ConnectionString, StorageSessionName.For("silo1", 41));
        await using var pending = await frozen.BeginTransactionAsync();

        var (sessions, rows) = await new DeadWriterFence(dataSource).FenceAsync("silo2", 41, successorRunning);

        sessions.Should().Be(1);
        rows.Should().Be(expectedRows);
        var commit = () => pending.CommitAsync();
        await commit.Should().ThrowAsync<Exception>("the frozen silo's open transaction can never commit now");
        (await PingAsync(successor)).Should().BeTrue();
        (await PingAsync(other)).Should().BeTrue();
        await using var idle = dataSource.CreateCommand("SELECT instance_name, idle FROM stream_positions ORDER BY instance_name");
        await using var reader = await idle.ExecuteReaderAsync();
        var marks = new Dictionary<string, bool>();
        while (await reader.ReadAsync()) marks[reader.GetString(0)] = reader.GetBoolean(1);
        marks.Should().Equal(new Dictionary<string, bool> { ["silo1"] = false, ["silo2"] = !successorRunning });
    }

    private static async Task<NpgsqlConnection> OpenAsAsync(string connectionString, StorageSessionName name)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = name.Value, Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<bool> PingAsync(NpgsqlConnection connection)
    {
        await using var ping = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await ping.ExecuteScalarAsync())! == 1;
    }
}
