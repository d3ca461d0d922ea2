using System.Text.Json.Nodes;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Storage.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Caches;
using Homeserver.Storage.Push;
using Homeserver.Grains.Interfaces.Caches;
using Homeserver.Grains.Streams;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Users;
using Orleans;
using Homeserver.Grains.Placement;

namespace Homeserver.Grains.Users;

/// <summary>Writer of one user's account, devices, sessions and account data.</summary>
[WriterPlacement(StreamNames.AccountData)]
public sealed class UserGrain(
    AccountStore accounts,
    RoomReader rooms,
    AccountDataStore accountData,
    CacheInvalidationStore caches,
    PusherStore pushers,
    StreamPublisher publisher,
    SyncHintPublisher hints,
    TimeProvider clock) : Grain, IUserGrain
{
    private string UserId => this.GetPrimaryKeyString();

    public async Task<Registration> RegisterAsync(RegisterCommand command, CancellationToken cancellationToken)
    {
        var deviceId = command.IssueSession ? command.DeviceId ?? NewDeviceId() : null;
        var token = command.IssueSession ? NewAccessToken() : null;
        var created = await accounts.CreateUserAsync(UserId, command.PasswordHash, command.IsAdmin, command.IsGuest,
            command.DisplayName ?? UserIds.Localpart(UserId), deviceId, command.DeviceDisplayName, token, Now());
        if (!created) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        if (deviceId is not null) await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DeviceChangedAsync(deviceId, cancellationToken);
        return new Registration(UserId, deviceId, token);
    }

    public async Task<Registration> UpgradeGuestAsync(UpgradeGuestCommand command, CancellationToken cancellationToken)
    {
        var deviceId = command.IssueSession ? command.DeviceId ?? NewDeviceId() : null;
        var token = command.IssueSession ? NewAccessToken() : null;
        if (!await accounts.UpgradeGuestAsync(UserId, command.PasswordHash, deviceId, command.DeviceDisplayName, token, Now()))
        {
            throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        }
        // API hosts cached the guest's tokens as a guest's: they must learn the account is full now.
        await ForgetCachedTokensAsync();
        if (deviceId is not null) await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DeviceChangedAsync(deviceId, cancellationToken);
        return new Registration(UserId, deviceId, token);
    }

    public async Task<Session> StartSessionAsync(StartSessionCommand command, CancellationToken cancellationToken)
    {
        var deviceId = command.DeviceId ?? NewDeviceId();
        var token = NewAccessToken();
        await accounts.AddSessionAsync(UserId, deviceId, command.DeviceDisplayName, token, Now());
        // A new device is news for everyone who encrypts to this user (Synapse announces each login's device).
        await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DeviceChangedAsync(deviceId, cancellationToken);
        return new Session(UserId, deviceId, token);
    }

    public async Task LogoutAsync(IReadOnlyList<string>? deviceIds, CancellationToken cancellationToken)
    {
        await accounts.DeleteDevicesAsync(UserId, deviceIds);
        await ForgetCachedTokensAsync();
        await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DevicesRemovedAsync(deviceIds);
    }

    /// <summary>
    /// API hosts cache access tokens; after tokens are deleted they drop this user's. The row is
    /// durable, so a host that misses it over Redis catches it up from PostgreSQL.
    /// </summary>
    private async Task ForgetCachedTokensAsync()
    {
        var position = await caches.InvalidateAsync(CacheInvalidationRow.AccessTokens, UserId, publisher.Writer(CacheInvalidationStore.StreamName));
        await publisher.PublishAsync(CacheInvalidationStore.StreamName, new CacheInvalidationRow(CacheInvalidationRow.AccessTokens, UserId), position, UserId);
    }

    public async Task ForgetRoomAsync(string roomId, CancellationToken cancellationToken)
    {
        var membership = await rooms.GetMembershipAsync(roomId, UserId);
        if (membership is "join" or "invite" or "knock")
        {
            throw new MatrixException(400, "M_UNKNOWN", "Leave the room before forgetting it.");
        }
        await accounts.ForgetRoomAsync(UserId, roomId, await rooms.GetLastRoomSeqAsync(roomId));
    }

    public async Task<bool> RenameDeviceAsync(string deviceId, string? displayName, CancellationToken cancellationToken)
    {
        if (!await accounts.RenameDeviceAsync(UserId, deviceId, displayName)) return false;
        // The display name is part of what /keys/query answers, so others hear of it.
        await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DeviceChangedAsync(deviceId, cancellationToken);
        return true;
    }

    public async Task ChangePasswordAsync(string passwordHash, bool logoutDevices, string? keepDeviceId, CancellationToken cancellationToken)
    {
        var signedOut = logoutDevices
            ? (await accounts.GetDevicesAsync(UserId)).Select(d => d.DeviceId).Where(d => d != keepDeviceId).ToList()
            : [];
        await accounts.ChangePasswordAsync(UserId, passwordHash, logoutDevices, keepDeviceId);
        if (!logoutDevices) return;
        await ForgetCachedTokensAsync();
        // The signed-out devices' keys go too, as on any logout.
        if (signedOut.Count > 0) await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DevicesRemovedAsync(signedOut, cancellationToken);
    }

    public async Task DeactivateAsync(bool erase, CancellationToken cancellationToken)
    {
        // The profile goes in the same transaction as the erasure mark, before the leaves: a leave carries no
        // profile, so after it the room's current state names the user without displayname or avatar.
        await accounts.DeactivateAsync(UserId, erase);
        await ForgetCachedTokensAsync();
        await GrainFactory.GetGrain<IEndToEndKeysGrain>(UserId).DevicesRemovedAsync(null);
        // Pending invites and knocks are declined too, so the user no longer shows as invited (Synapse does so).
        foreach (var roomId in await rooms.GetRoomsWithMembershipAsync(UserId, ["join", "invite", "knock"]))
        {
            await GrainFactory.GetGrain<IRoomGrain>(roomId).SendEventAsync(
                new SendEventCommand(UserId, "m.room.member", UserId, new JsonObject { ["membership"] = "leave" }, null));
        }
    }

    public async Task SetProfileFieldAsync(string field, string? value, CancellationToken cancellationToken)
    {
        await accounts.SetProfileFieldAsync(UserId, field, value);
        // As Synapse does, the new profile reaches each joined room as a fresh member event.
        foreach (var roomId in await rooms.GetJoinedRoomsAsync(UserId))
        {
            var current = await rooms.GetCurrentStateAsync(roomId, "m.room.member", UserId);
            if (current.Count == 0) continue;
            var content = StoredJson.Parse(current[0].Json)!["content"]!.AsObject().DeepClone().AsObject();
            if (value is null) content.Remove(field);
            else content[field] = value;
            await GrainFactory.GetGrain<IRoomGrain>(roomId).SendEventAsync(new SendEventCommand(UserId, "m.room.member", UserId, content, null));
        }
    }

    public async Task<long> SetAccountDataAsync(string? roomId, string type, JsonObject content, CancellationToken cancellationToken)
    {
        // Account data is not signed, so it keeps what clients send, floats included (tag "order" is one).
        var position = await accountData.SetAsync(UserId, roomId, type, content.ToJsonString(), publisher.Writer(StreamNames.AccountData));
        await publisher.PublishAsync(StreamNames.AccountData, new AccountDataStreamRow(UserId, roomId, type), position, UserId);
        await hints.ToUserAsync(UserId, StreamNames.AccountData, position);
        return position;
    }

    public async Task<long> ChangeTagAsync(string roomId, string tag, JsonObject? content, CancellationToken cancellationToken)
    {
        // Read-modify-write of the tag map: safe because this grain's turns never interleave.
        var current = await GetAccountDataAsync(roomId, "m.tag", CancellationToken.None) ?? [];
        var tags = current["tags"] as JsonObject ?? [];
        current["tags"] = tags;
        if (content is null) tags.Remove(tag);
        else tags[tag] = content.DeepClone();
        return await SetAccountDataAsync(roomId, "m.tag", current, CancellationToken.None);
    }

    public async Task<JsonObject?> GetAccountDataAsync(string? roomId, string type, CancellationToken cancellationToken) =>
        await accountData.GetAsync(UserId, roomId, type) is { } json ? StoredJson.Parse(json)!.AsObject() : null;

    public Task SetPusherAsync(PusherSettings pusher, bool append, CancellationToken cancellationToken) =>
        pushers.SetAsync(new PusherRecord(UserId, pusher.AppId, pusher.Pushkey, pusher.Kind, pusher.AppDisplayName, pusher.DeviceDisplayName,
            pusher.ProfileTag, pusher.Lang, pusher.Data.ToJsonString(), Now(), 0), pusher.DeviceId, append);

    public Task<bool> DeletePusherAsync(string appId, string pushkey, CancellationToken cancellationToken) => pushers.DeleteAsync(UserId, appId, pushkey);

    private long Now() => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private static string NewDeviceId() => RandomText.Letters(10).ToUpperInvariant();

    private string NewAccessToken() =>
        $"syt_{UnpaddedBase64.EncodeUrlSafe(System.Text.Encoding.UTF8.GetBytes(UserIds.Localpart(UserId)))}_{RandomText.UrlSafe(32)}";
}

internal static class UserIds
{
    public static string Localpart(string userId) => UserId.TryParse(userId, out var id) ? id.Localpart : userId.TrimStart('@').Split(':')[0];
}
