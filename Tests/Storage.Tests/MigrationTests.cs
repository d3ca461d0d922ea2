using Homeserver.Storage;
using Homeserver.Storage.Migrations;
using Homeserver.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Homeserver.Tests.Storage;

public sealed class MigrationTests
{
    [Fact]
    public async Task Processes_applying_migrations_at_the_same_moment_all_start_cleanly()
    {
        await using var database = await TestDatabase.CreateAsync();
        // Separate data sources stand for separate processes: each has its own connections and lock session.
        var sources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(database.ConnectionString)).ToArray();
        try
        {
            var start = new TaskCompletionSource();
            var runs = sources.Select(s => Task.Run(async () =>
            {
                await start.Task;
                return await new MigrationRunner(s, new StorageLog(NullLogger<StorageLog>.Instance)).ApplyAsync();
            })).ToArray();
            start.SetResult();
            var applied = await Task.WhenAll(runs);

            applied.Sum().Should().Be(MigrationRunner.All.Count, "each migration is applied by exactly one process");
            await using var count = sources[0].CreateCommand("SELECT count(*) FROM schema_migrations");
            ((long)(await count.ExecuteScalarAsync())!).Should().Be(MigrationRunner.All.Count);
        }
        finally
        {
            foreach (var s in sources) await s.DisposeAsync();
        }
    }

    [Fact]
    public void Migrations_are_embedded_and_numbered_without_gaps()
    {
        MigrationRunner.All.Should().NotBeEmpty();
        MigrationRunner.All.Select(m => m.Version).Should().Equal(Enumerable.Range(1, MigrationRunner.All.Count));
    }
}
