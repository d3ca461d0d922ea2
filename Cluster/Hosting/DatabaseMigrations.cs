using Homeserver.Storage;
using Homeserver.Storage.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Homeserver.Cluster.Hosting;

public static class DatabaseMigrations
{
    /// <summary>
    /// Brings the schema up to date before the host starts: Orleans' silos read and write the
    /// membership table as they start, so it must exist first. Processes starting together queue on
    /// the migration lock.
    /// </summary>
    public static async Task ApplyAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new MigrationRunner(dataSource, new StorageLog(NullLogger<StorageLog>.Instance)).ApplyAsync(cancellationToken);
    }
}
