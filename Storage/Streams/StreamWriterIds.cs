using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>Stable numeric IDs for writer instances, kept in stream_writer_ids.</summary>
public static class StreamWriterIds
{
    public static async Task<int> GetOrCreateAsync(NpgsqlDataSource dataSource, string instanceName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH inserted AS (
                INSERT INTO stream_writer_ids (instance_name) VALUES ($1)
                ON CONFLICT (instance_name) DO NOTHING
                RETURNING writer_id)
            SELECT writer_id FROM inserted
            UNION ALL
            SELECT writer_id FROM stream_writer_ids WHERE instance_name = $1
            """);
        command.Parameters.Add(new() { Value = instanceName });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
