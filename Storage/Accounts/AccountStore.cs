using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Homeserver.Storage.Accounts;

public sealed record UserAccount(string UserId, string? PasswordHash, bool IsAdmin, bool Deactivated);

/// <param name="IsGuest">Whether the token's user is a guest account (spec "Guest Access"), so API hosts can keep guests to their subset.</param>
public sealed record AccessTokenOwner(string UserId, string DeviceId, bool IsGuest);

public sealed record DeviceRecord(string DeviceId, string? DisplayName, long? LastSeenTs, string? LastSeenIp);

/// <summary>
/// Users, devices and access tokens. Writes come from the user's grain; the reads (token lookup,
/// password check) are done by API hosts.
/// </summary>
public sealed class AccountStore(NpgsqlDataSource dataSource)
{
    public static byte[] HashToken(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Creates the user with a first device and token in one transaction; false when the user ID is taken.</summary>
    public async Task<bool> CreateUserAsync(string userId, string? passwordHash, bool isAdmin, bool isGuest, string? displayName,
        string? deviceId, string? deviceDisplayName, string? accessToken, long now, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO users (user_id, password_hash, is_admin, is_guest, created_ts) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (user_id) DO NOTHING
            """, connection, tx))
        {
            insert.Parameters.Add(new() { Value = userId });
            insert.Parameters.Add(new() { Value = (object?)passwordHash ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = isAdmin });
            insert.Parameters.Add(new() { Value = isGuest });
            insert.Parameters.Add(new() { Value = now });
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0) return false;
        }
        await using (var profile = new NpgsqlCommand("INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)", connection, tx))
        {
            profile.Parameters.Add(new() { Value = userId });
            profile.Parameters.Add(new() { Value = (object?)displayName ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await profile.ExecuteNonQueryAsync(cancellationToken);
        }
        if (deviceId is not null) await AddDeviceAsync(connection, tx, userId, deviceId, deviceDisplayName, accessToken, now, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Turns a guest into a full account with a password, and optionally a new device and token, in one
    /// transaction; false when the user is not (or no longer) a guest. The guest's devices, tokens,
    /// rooms and profile stay: the account keeps its user ID.
    /// </summary>
    public async Task<bool> UpgradeGuestAsync(string userId, string passwordHash, string? deviceId, string? deviceDisplayName,
        string? accessToken, long now, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var upgrade = new NpgsqlCommand(
            "UPDATE users SET password_hash = $2, is_guest = false WHERE user_id = $1 AND is_guest AND NOT deactivated", connection, tx))
        {
            upgrade.Parameters.Add(new() { Value = userId });
            upgrade.Parameters.Add(new() { Value = passwordHash });
            if (await upgrade.ExecuteNonQueryAsync(cancellationToken) == 0) return false;
        }
        if (deviceId is not null) await AddDeviceAsync(connection, tx, userId, deviceId, deviceDisplayName, accessToken, now, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>A fresh number for a guest's localpart, unique across every process.</summary>
    public async Task<long> NextGuestNumberAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT nextval('guest_localparts')");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Which of <paramref name="userIds"/> are guest accounts of this server.</summary>
    public async Task<IReadOnlyList<string>> GuestsAmongAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken = default)
    {
        if (userIds.Count == 0) return [];
        await using var command = dataSource.CreateCommand("SELECT user_id FROM users WHERE user_id = ANY($1) AND is_guest ORDER BY user_id");
        command.Parameters.Add(new() { Value = userIds.ToArray() });
        var guests = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) guests.Add(reader.GetString(0));
        return guests;
    }

    /// <summary>Adds (or reuses) a device and gives it a new access token, revoking the device's older tokens.</summary>
    public async Task AddSessionAsync(string userId, string deviceId, string? deviceDisplayName, string accessToken, long now,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await AddDeviceAsync(connection, tx, userId, deviceId, deviceDisplayName, accessToken, now, cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Deletes devices (and with them their tokens); null deletes every device of the user.</summary>
    public async Task<int> DeleteDevicesAsync(string userId, IReadOnlyList<string>? deviceIds, CancellationToken cancellationToken = default)
    {
        await using var command = deviceIds is null
            ? dataSource.CreateCommand("DELETE FROM devices WHERE user_id = $1")
            : dataSource.CreateCommand("DELETE FROM devices WHERE user_id = $1 AND device_id = ANY($2)");
        command.Parameters.Add(new() { Value = userId });
        if (deviceIds is not null) command.Parameters.Add(new() { Value = deviceIds.ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<AccessTokenOwner?> FindTokenOwnerAsync(string accessToken, CancellationToken cancellationToken = default) =>
        FindTokenOwnerByHashAsync(HashToken(accessToken), cancellationToken);

    /// <summary>The owner of the token whose <see cref="HashToken"/> this is (for flows that keep only the hash).</summary>
    public async Task<AccessTokenOwner?> FindTokenOwnerByHashAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT t.user_id, t.device_id, u.is_guest FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1
            """);
        command.Parameters.Add(new() { Value = tokenHash });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new AccessTokenOwner(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)) : null;
    }

    public async Task<UserAccount?> FindUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT user_id, password_hash, is_admin, deactivated FROM users WHERE user_id = $1");
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new UserAccount(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3))
            : null;
    }

    /// <summary>Sets one profile field (displayname or avatar_url); null clears it.</summary>
    public async Task SetProfileFieldAsync(string userId, string field, string? value, CancellationToken cancellationToken = default)
    {
        var column = field switch
        {
            "displayname" => "displayname",
            "avatar_url" => "avatar_url",
            _ => throw new ArgumentException($"Unknown profile field {field}.", nameof(field)),
        };
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO profiles (user_id, {column}) VALUES ($1, $2)
            ON CONFLICT (user_id) DO UPDATE SET {column} = EXCLUDED.{column}
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<DeviceRecord>> GetDevicesAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices WHERE user_id = $1 ORDER BY device_id");
        command.Parameters.Add(new() { Value = userId });
        var devices = new List<DeviceRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            devices.Add(new DeviceRecord(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }
        return devices;
    }

    public async Task<bool> RenameDeviceAsync(string userId, string deviceId, string? displayName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = deviceId });
        command.Parameters.Add(new() { Value = (object?)displayName ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Sets a new password hash and, in the same transaction, deletes every device except <paramref name="keepDeviceId"/>.</summary>
    public async Task ChangePasswordAsync(string userId, string passwordHash, bool logoutDevices, string? keepDeviceId,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx);
        var update = new NpgsqlBatchCommand("UPDATE users SET password_hash = $2 WHERE user_id = $1");
        update.Parameters.Add(new() { Value = userId });
        update.Parameters.Add(new() { Value = passwordHash });
        batch.BatchCommands.Add(update);
        if (logoutDevices)
        {
            var delete = new NpgsqlBatchCommand("DELETE FROM devices WHERE user_id = $1 AND device_id IS DISTINCT FROM $2");
            delete.Parameters.Add(new() { Value = userId });
            delete.Parameters.Add(new() { Value = (object?)keepDeviceId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            batch.BatchCommands.Add(delete);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Marks the account deactivated and removes its password, every device, every pusher and its 3PIDs, in one
    /// transaction. With <paramref name="erase"/> it also marks the user erased, clears the profile and
    /// deletes the account data (the spec's "non-event data").
    /// </summary>
    public async Task DeactivateAsync(string userId, bool erase, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx);
        void Add(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new() { Value = userId });
            batch.BatchCommands.Add(command);
        }
        Add("UPDATE users SET deactivated = true, password_hash = NULL WHERE user_id = $1");
        Add("DELETE FROM devices WHERE user_id = $1");
        // Pushers set before they belonged to a device, too: a deactivated account is never pushed to.
        Add("DELETE FROM pushers WHERE user_id = $1");
        // As Synapse does: a deactivated account's 3PIDs are free for another account, and never log in or reset a password.
        Add("DELETE FROM user_threepids WHERE user_id = $1");
        if (erase)
        {
            Add("INSERT INTO erased_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING");
            Add("UPDATE profiles SET displayname = NULL, avatar_url = NULL WHERE user_id = $1");
            Add("DELETE FROM account_data WHERE user_id = $1");
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public async Task ForgetRoomAsync(string userId, string roomId, long forgottenAt, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO forgotten_rooms (user_id, room_id, forgotten_at) VALUES ($1, $2, $3)
            ON CONFLICT (user_id, room_id) DO UPDATE SET forgotten_at = EXCLUDED.forgotten_at
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = roomId });
        command.Parameters.Add(new() { Value = forgottenAt });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> UserExistsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT 1 FROM users WHERE user_id = $1");
        command.Parameters.Add(new() { Value = userId });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task AddDeviceAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string userId, string deviceId,
        string? displayName, string? accessToken, long now, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, tx);
        var device = new NpgsqlBatchCommand("""
            INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES ($1, $2, $3, $4)
            ON CONFLICT (user_id, device_id) DO UPDATE SET display_name = COALESCE(EXCLUDED.display_name, devices.display_name)
            """);
        device.Parameters.Add(new() { Value = userId });
        device.Parameters.Add(new() { Value = deviceId });
        device.Parameters.Add(new() { Value = (object?)displayName ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        device.Parameters.Add(new() { Value = now });
        batch.BatchCommands.Add(device);
        if (accessToken is not null)
        {
            // Logging in again with an existing device ID replaces that device's session.
            var revoke = new NpgsqlBatchCommand("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2");
            revoke.Parameters.Add(new() { Value = userId });
            revoke.Parameters.Add(new() { Value = deviceId });
            batch.BatchCommands.Add(revoke);
            var token = new NpgsqlBatchCommand(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)");
            token.Parameters.Add(new() { Value = HashToken(accessToken) });
            token.Parameters.Add(new() { Value = userId });
            token.Parameters.Add(new() { Value = deviceId });
            token.Parameters.Add(new() { Value = now });
            batch.BatchCommands.Add(token);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }
}
