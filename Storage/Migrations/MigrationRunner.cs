using System.Reflection;
using System.Text.RegularExpressions;
using Npgsql;

namespace Homeserver.Storage.Migrations;

/// <summary>
/// Applies the numbered SQL files embedded in this assembly, each in its own transaction, under a
/// session advisory lock: processes starting together queue on the lock, and each one that gets it
/// finds what the others already applied.
/// </summary>
public sealed partial class MigrationRunner(NpgsqlDataSource dataSource, StorageLog log)
{
    // Arbitrary but fixed: every process of every version must contend on the same lock.
    private const long AdvisoryLockKey = 0x6d61_7472_6978;

    public static IReadOnlyList<Migration> All { get; } = LoadEmbedded();

    public async Task<int> ApplyAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await Execute(connection, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            await Execute(connection, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken);
            var applied = new HashSet<int>();
            await using (var read = new NpgsqlCommand("SELECT version FROM schema_migrations", connection))
            await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetInt32(0));
            }

            var count = 0;
            foreach (var migration in All.Where(m => !applied.Contains(m.Version)))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using (var apply = new NpgsqlCommand(migration.Sql, connection, transaction))
                {
                    await apply.ExecuteNonQueryAsync(cancellationToken);
                }
                await using (var record = new NpgsqlCommand(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection, transaction))
                {
                    record.Parameters.Add(new() { Value = migration.Version });
                    record.Parameters.Add(new() { Value = migration.Name });
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }
                await transaction.CommitAsync(cancellationToken);
                log.MigrationApplied(migration.Version, migration.Name);
                count++;
            }
            return count;
        }
        finally
        {
            await Execute(connection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = FileName().Match(resource);
            if (!match.Success) continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(int.Parse(match.Groups[1].Value), match.Groups[2].Value, reader.ReadToEnd()));
        }
        var versions = migrations.Select(m => m.Version).ToList();
        if (versions.Distinct().Count() != versions.Count)
        {
            throw new InvalidOperationException("Two embedded migrations share a version number.");
        }
        return migrations.OrderBy(m => m.Version).ToList();
    }

    [GeneratedRegex(@"\.(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex FileName();
}

public sealed record Migration(int Version, string Name, string Sql);
