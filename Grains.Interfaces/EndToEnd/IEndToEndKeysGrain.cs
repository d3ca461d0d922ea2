using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.EndToEnd;

/// <summary>
/// One user's end-to-end encryption keys (key: user ID): device keys, one-time and fallback keys,
/// cross-signing keys, signatures and server-side key backup. Placed on the <c>device_lists</c>
/// writers, whose stream tells other users that these keys changed.
/// </summary>
[Alias("IEndToEndKeysGrain")]
public interface IEndToEndKeysGrain : IGrainWithStringKey
{
    /// <summary>/keys/upload for one device; returns its unclaimed one-time key counts.</summary>
    Task<IReadOnlyDictionary<string, int>> UploadKeysAsync(string deviceId, JsonObject? deviceKeys, JsonObject? oneTimeKeys, JsonObject? fallbackKeys, CancellationToken cancellationToken = default);

    /// <summary>Claims one key per requested device (device ID to algorithm): device ID to {"alg:id": key}.</summary>
    Task<JsonObject> ClaimKeysAsync(IReadOnlyDictionary<string, string> algorithmByDevice, CancellationToken cancellationToken = default);

    /// <summary>/keys/device_signing/upload: master, self_signing and user_signing keys, checked against each other.</summary>
    Task UploadCrossSigningKeysAsync(JsonObject? master, JsonObject? selfSigning, JsonObject? userSigning, CancellationToken cancellationToken = default);

    /// <summary>/keys/signatures/upload from this user: verifies each signature; returns the failures map.</summary>
    Task<JsonObject> UploadSignaturesAsync(JsonObject signedObjects, CancellationToken cancellationToken = default);

    /// <summary>A device was added or renamed: the user's device list changed for everyone who shares a room, and the user.</summary>
    Task DeviceListChangedAsync(CancellationToken cancellationToken = default);

    /// <summary>One of this user's devices was added or renamed: as <see cref="DeviceListChangedAsync"/>, and other servers sharing a room hear of that device.</summary>
    Task DeviceChangedAsync(string deviceId, CancellationToken cancellationToken = default);

    /// <summary>Removes deleted devices' keys and messages (null: every device) and announces the change.</summary>
    Task DevicesRemovedAsync(IReadOnlyList<string>? deviceIds, CancellationToken cancellationToken = default);

    Task<long> CreateBackupVersionAsync(string algorithm, JsonObject authData, CancellationToken cancellationToken = default);

    Task UpdateBackupVersionAsync(long version, string algorithm, JsonObject authData, CancellationToken cancellationToken = default);

    Task DeleteBackupVersionAsync(long version, CancellationToken cancellationToken = default);

    /// <summary>Stores backed-up sessions ({rooms: {room: {sessions: {id: data}}}}) in the current version; returns (etag, count).</summary>
    Task<BackupCounts> PutBackupKeysAsync(long version, JsonObject rooms, CancellationToken cancellationToken = default);

    Task<BackupCounts> DeleteBackupKeysAsync(long version, string? roomId, string? sessionId, CancellationToken cancellationToken = default);
}

[GenerateSerializer, Immutable, Alias("BackupCounts")]
public sealed record BackupCounts([property: Id(0)] string Etag, [property: Id(1)] int Count);
