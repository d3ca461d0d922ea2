using Homeserver.Storage.Streams;
using Npgsql;

namespace Homeserver.Storage.Push;

/// <summary>The push_rules stream: each user's changes to the default rules, as one JSON document.</summary>
public sealed class PushRuleStore(NpgsqlDataSource dataSource)
{
    public async Task<string?> GetChangesAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT changes FROM push_rules WHERE user_id = $1").With(userId);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public Task<long> SetChangesAsync(string userId, string changesJson, MultiWriterIdGenerator positions, CancellationToken cancellationToken = default) =>
        positions.WriteAsync(dataSource, async (connection, tx, position) =>
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO push_rules (user_id, changes, stream_id) VALUES ($1, $2, $3)
                ON CONFLICT (user_id) DO UPDATE SET changes = EXCLUDED.changes, stream_id = EXCLUDED.stream_id
                """, connection, tx).With(userId, changesJson, position);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public async Task<bool> ChangedAsync(string userId, long after, long upTo, CancellationToken cancellationToken = default)
    {
        if (upTo <= after) return false;
        await using var command = dataSource.CreateCommand(
            "SELECT 1 FROM push_rules WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3").With(userId, after, upTo);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }
}
