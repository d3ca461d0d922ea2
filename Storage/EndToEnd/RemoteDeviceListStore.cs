using Npgsql;

namespace Homeserver.Storage.EndToEnd;

/// <summary>The last update applied to a remote user's cached device list, and whether a resync of it failed since.</summary>
public sealed record RemoteDeviceListExtremity(long StreamId, bool Stale);

/// <summary>A device of a remote user as cached: its ID and the JSON its server gave for it.</summary>
public sealed record RemoteDevice(string DeviceId, string ContentJson);

/// <summary>
/// Other servers' users' device lists (<c>device_lists_remote_cache</c> and <c>device_lists_remote_extremities</c>),
/// written by the user's remote device-list grain from resyncs and incremental updates.
/// </summary>
public sealed class RemoteDeviceListStore(NpgsqlDataSource dataSource)
{
    /// <summary>Null when this server never had the user's list.</summary>
    public async Task<RemoteDeviceListExtremity?> GetExtremityAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT stream_id, stale FROM device_lists_remote_extremities WHERE user_id = $1")
            .With(userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new RemoteDeviceListExtremity(reader.GetInt64(0), reader.GetBoolean(1)) : null;
    }

    /// <summary>Replaces the whole list with a snapshot (a resync), at the snapshot's stream_id.</summary>
    public async Task ReplaceAsync(string userId, long streamId, IReadOnlyList<RemoteDevice> devices, string? crossSigningJson,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var delete = new NpgsqlCommand("DELETE FROM device_lists_remote_cache WHERE user_id = $1", connection, tx).With(userId))
        {
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO device_lists_remote_cache (user_id, device_id, content_json)
            SELECT $1, d, c FROM unnest($2::text[], $3::text[]) AS t(d, c) ON CONFLICT DO NOTHING
            """, connection, tx).With(userId, devices.Select(d => d.DeviceId).ToArray(), devices.Select(d => d.ContentJson).ToArray()))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var extremity = new NpgsqlCommand("""
            INSERT INTO device_lists_remote_extremities (user_id, stream_id, stale, cross_signing_json) VALUES ($1, $2, false, $3)
            ON CONFLICT (user_id) DO UPDATE SET stream_id = excluded.stream_id, stale = false, cross_signing_json = excluded.cross_signing_json
            """, connection, tx).With(userId, streamId, crossSigningJson))
        {
            await extremity.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Applies one update in sequence: the device is replaced (or removed), and the extremity moves to it.</summary>
    public async Task ApplyAsync(string userId, long streamId, string deviceId, string? contentJson, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        var device = contentJson is null
            ? new NpgsqlBatchCommand("DELETE FROM device_lists_remote_cache WHERE user_id = $1 AND device_id = $2")
            : new NpgsqlBatchCommand("""
                INSERT INTO device_lists_remote_cache (user_id, device_id, content_json) VALUES ($1, $2, $3)
                ON CONFLICT (user_id, device_id) DO UPDATE SET content_json = excluded.content_json
                """);
        device.Parameters.Add(new() { Value = userId });
        device.Parameters.Add(new() { Value = deviceId });
        if (contentJson is not null) device.Parameters.Add(new() { Value = contentJson });
        batch.BatchCommands.Add(device);
        var extremity = new NpgsqlBatchCommand("UPDATE device_lists_remote_extremities SET stream_id = $2 WHERE user_id = $1");
        extremity.Parameters.Add(new() { Value = userId });
        extremity.Parameters.Add(new() { Value = streamId });
        batch.BatchCommands.Add(extremity);
        // A batch is one implicit transaction: the device and the extremity move together.
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A resync failed: the next update fetches the list again, whatever its prev_id.</summary>
    public async Task MarkStaleAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE device_lists_remote_extremities SET stale = true WHERE user_id = $1").With(userId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<RemoteDevice>> GetDevicesAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT device_id, content_json FROM device_lists_remote_cache WHERE user_id = $1 ORDER BY device_id
            """).With(userId);
        var devices = new List<RemoteDevice>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) devices.Add(new RemoteDevice(reader.GetString(0), reader.GetString(1)));
        return devices;
    }
}
