using System.Text.Json.Nodes;
using Orleans;
using Orleans.Concurrency;

namespace Homeserver.Grains.Interfaces.Users;

/// <summary>Writer of one user's own streams (key: user ID), placed on the <c>account_data</c> writers.</summary>
[Alias("IUserGrain")]
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>Creates the account; fails with M_USER_IN_USE when it exists.</summary>
    Task<Registration> RegisterAsync(RegisterCommand command, CancellationToken cancellationToken = default);

    /// <summary>Turns the guest account into a full one, keeping its user ID; fails with 400 M_USER_IN_USE when it is no guest.</summary>
    Task<Registration> UpgradeGuestAsync(UpgradeGuestCommand command, CancellationToken cancellationToken = default);

    /// <summary>A new (or replaced) device session after the caller has checked the credentials.</summary>
    Task<Session> StartSessionAsync(StartSessionCommand command, CancellationToken cancellationToken = default);

    /// <summary>Ends sessions by deleting devices and their tokens; null ends every session.</summary>
    Task LogoutAsync(IReadOnlyList<string>? deviceIds, CancellationToken cancellationToken = default);

    /// <summary>Forgets a room the user has left; fails with 400 while they are still in it.</summary>
    Task ForgetRoomAsync(string roomId, CancellationToken cancellationToken = default);

    Task<bool> RenameDeviceAsync(string deviceId, string? displayName, CancellationToken cancellationToken = default);

    /// <summary>Stores a new password hash; with <paramref name="logoutDevices"/>, ends every session but <paramref name="keepDeviceId"/>.</summary>
    Task ChangePasswordAsync(string passwordHash, bool logoutDevices, string? keepDeviceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deactivates the account: no password, sessions or pushers; it leaves every joined room and declines
    /// pending invites and knocks. With <paramref name="erase"/> (Synapse's GDPR erasure) the user is marked
    /// erased, so later joiners see their events pruned, and their profile and account data are deleted.
    /// </summary>
    Task DeactivateAsync(bool erase, CancellationToken cancellationToken = default);

    /// <summary>Sets displayname or avatar_url and updates the user's member event in every joined room.</summary>
    Task SetProfileFieldAsync(string field, string? value, CancellationToken cancellationToken = default);

    /// <summary>Stores account data (global when <paramref name="roomId"/> is null); returns its stream position.</summary>
    Task<long> SetAccountDataAsync(string? roomId, string type, JsonObject content, CancellationToken cancellationToken = default);

    /// <summary>Adds (with content) or removes (null) a room tag in the user's m.tag room account data.</summary>
    Task<long> ChangeTagAsync(string roomId, string tag, JsonObject? content, CancellationToken cancellationToken = default);

    [ReadOnly]
    Task<JsonObject?> GetAccountDataAsync(string? roomId, string type, CancellationToken cancellationToken = default);

    /// <summary>Adds or replaces a pusher; unless <paramref name="append"/>, other users' pushers with its app ID and pushkey go.</summary>
    Task SetPusherAsync(PusherSettings pusher, bool append, CancellationToken cancellationToken = default);

    /// <summary>Removes a pusher; false when there was none.</summary>
    Task<bool> DeletePusherAsync(string appId, string pushkey, CancellationToken cancellationToken = default);
}
