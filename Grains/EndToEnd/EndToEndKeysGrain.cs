using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.EndToEnd;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Streams;
using Homeserver.Protocol;
using Homeserver.Storage.EndToEnd;
using Orleans;
using Homeserver.Grains.Placement;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces.Federation;

namespace Homeserver.Grains.EndToEnd;

/// <summary>
/// Writer of one user's end-to-end keys. Its turns never interleave, so checks against the stored
/// keys (a self-signing key signed by the current master key, a backup version that is current)
/// hold until the write commits.
/// </summary>
[WriterPlacement(StreamNames.DeviceLists)]
public sealed class EndToEndKeysGrain(EndToEndKeyStore keys, KeyBackupStore backups, StreamPublisher publisher, RoomEduFanOut federation,
    DeviceListFederation deviceLists, ProcessSettings settings) : Grain, IEndToEndKeysGrain
{
    private static readonly string[] CrossSigningTypes = ["master", "self_signing", "user_signing"];

    private string UserId => this.GetPrimaryKeyString();

    public async Task<IReadOnlyDictionary<string, int>> UploadKeysAsync(string deviceId, JsonObject? deviceKeys, JsonObject? oneTimeKeys,
        JsonObject? fallbackKeys, CancellationToken cancellationToken)
    {
        if (deviceKeys is not null)
        {
            if (deviceKeys["user_id"]?.ToString() != UserId || deviceKeys["device_id"]?.ToString() != deviceId)
            {
                throw new MatrixException(400, "M_INVALID_PARAM", "'device_keys' must name your user ID and this device's ID.");
            }
            if (deviceKeys["keys"] is not JsonObject || deviceKeys["algorithms"] is not JsonArray)
            {
                throw new MatrixException(400, "M_INVALID_PARAM", "'device_keys' needs 'keys' and 'algorithms'.");
            }
        }
        var position = await keys.UploadAsync(UserId, deviceId, deviceKeys is null ? null : CanonicalJson.ToCanonicalString(deviceKeys),
            ParseKeys(oneTimeKeys, "one_time_keys"), ParseKeys(fallbackKeys, "fallback_keys"), publisher.Writer(StreamNames.DeviceLists));
        if (position is { } p)
        {
            await publisher.PublishToPeersAsync(StreamNames.DeviceLists, UserId, p);
            await AnnounceDevicesAsync(p, [DeviceUpdate(deviceId, deviceKeys, deleted: false)]);
        }
        return await keys.CountOneTimeKeysAsync(UserId, deviceId);
    }

    public async Task<JsonObject> ClaimKeysAsync(IReadOnlyDictionary<string, string> algorithmByDevice, CancellationToken cancellationToken)
    {
        var claimed = new JsonObject();
        foreach (var (deviceId, algorithm) in algorithmByDevice)
        {
            if (await keys.ClaimAsync(UserId, deviceId, algorithm) is { } key)
            {
                claimed[deviceId] = new JsonObject { [$"{algorithm}:{key.KeyId}"] = StoredJson.Parse(key.Json) };
            }
        }
        return claimed;
    }

    public async Task UploadCrossSigningKeysAsync(JsonObject? master, JsonObject? selfSigning, JsonObject? userSigning, CancellationToken cancellationToken)
    {
        var uploaded = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        if (master is not null) uploaded["master"] = master;
        if (selfSigning is not null) uploaded["self_signing"] = selfSigning;
        if (userSigning is not null) uploaded["user_signing"] = userSigning;
        if (uploaded.Count == 0) throw new MatrixException(400, "M_MISSING_PARAM", "Upload at least one of master_key, self_signing_key and user_signing_key.");

        var stored = await StoredCrossSigningKeysAsync();
        foreach (var (type, key) in uploaded)
        {
            if (key["user_id"]?.ToString() != UserId) throw new MatrixException(400, "M_INVALID_PARAM", $"The {type} key must name your user ID.");
            if (key["usage"] is not JsonArray usage || !usage.Any(u => u?.ToString() == type))
            {
                throw new MatrixException(400, "M_INVALID_PARAM", $"The {type} key's 'usage' must include \"{type}\".");
            }
            _ = PublicKey(key) ?? throw new MatrixException(400, "M_INVALID_PARAM", $"The {type} key must hold exactly one ed25519 key.");
        }
        var masterKey = uploaded.GetValueOrDefault("master") ?? stored.GetValueOrDefault("master");
        foreach (var type in new[] { "self_signing", "user_signing" })
        {
            if (!uploaded.TryGetValue(type, out var key)) continue;
            if (masterKey is null || PublicKey(masterKey) is not { } masterPublic ||
                !VerifySignature(key, UserId, $"ed25519:{masterPublic}", masterPublic))
            {
                throw new MatrixException(400, "M_INVALID_SIGNATURE", $"The {type} key must be signed by the master key.");
            }
        }
        var position = await keys.SetCrossSigningKeysAsync(UserId,
            uploaded.ToDictionary(kv => kv.Key, kv => CanonicalJson.ToCanonicalString(kv.Value), StringComparer.Ordinal),
            publisher.Writer(StreamNames.DeviceLists));
        await publisher.PublishToPeersAsync(StreamNames.DeviceLists, UserId, position);
        if (IsLocal && (uploaded.ContainsKey("master") || uploaded.ContainsKey("self_signing")))
        {
            var update = new JsonObject { ["user_id"] = UserId };
            if (uploaded.TryGetValue("master", out var m)) update["master_key"] = m.DeepClone();
            if (uploaded.TryGetValue("self_signing", out var ss)) update["self_signing_key"] = ss.DeepClone();
            await federation.SendToUserServersAsync(UserId, new Edu("m.signing_key_update", update), CancellationToken.None);
        }
    }

    public async Task<JsonObject> UploadSignaturesAsync(JsonObject signedObjects, CancellationToken cancellationToken)
    {
        var failures = new JsonObject();
        void Fail(string user, string keyId, string errcode, string error) =>
            (failures[user] as JsonObject ?? (JsonObject)(failures[user] = new JsonObject()))[keyId] = new JsonObject { ["errcode"] = errcode, ["error"] = error };

        // The keys this user can sign with: its cross-signing keys and its devices' ed25519 keys, by key ID.
        var signingKeys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in (await StoredCrossSigningKeysAsync()).Values)
        {
            if (PublicKey(key) is { } pub) signingKeys[$"ed25519:{pub}"] = pub;
        }
        foreach (var device in await keys.GetDeviceKeysAsync([UserId]))
        {
            if (StoredJson.Parse(device.KeyJson)?["keys"]?[$"ed25519:{device.DeviceId}"] is JsonValue v && v.TryGetValue<string>(out var pub))
            {
                signingKeys[$"ed25519:{device.DeviceId}"] = pub;
            }
        }

        var accepted = new List<KeySignatureRow>();
        foreach (var (targetUser, objects) in signedObjects)
        {
            if (objects is not JsonObject byKey) continue;
            var targetKeys = await SignableKeysAsync(targetUser);
            foreach (var (targetKeyId, node) in byKey)
            {
                if (node is not JsonObject signed || !targetKeys.TryGetValue(targetKeyId, out var storedKey))
                {
                    Fail(targetUser, targetKeyId, "M_INVALID_PARAM", "No such key to sign.");
                    continue;
                }
                if (!CanonicalJson.ToCanonicalString(Unsigned(signed)).Equals(CanonicalJson.ToCanonicalString(Unsigned(storedKey)), StringComparison.Ordinal))
                {
                    Fail(targetUser, targetKeyId, "M_INVALID_SIGNATURE", "The signed object does not match the stored key.");
                    continue;
                }
                var ours = signed["signatures"]?[UserId] as JsonObject;
                var storedOurs = storedKey["signatures"]?[UserId] as JsonObject;
                foreach (var (signingKeyId, signature) in ours ?? [])
                {
                    if (storedOurs?[signingKeyId] is not null) continue;
                    if (!signingKeys.TryGetValue(signingKeyId, out var pub) || !VerifySignature(signed, UserId, signingKeyId, pub))
                    {
                        Fail(targetUser, targetKeyId, "M_INVALID_SIGNATURE", $"The signature by {signingKeyId} does not verify.");
                        continue;
                    }
                    accepted.Add(new KeySignatureRow(UserId, signingKeyId, targetUser, targetKeyId, signature!.ToString()));
                }
            }
        }
        if (accepted.Count > 0)
        {
            var position = await keys.AddSignaturesAsync(accepted, publisher.Writer(StreamNames.DeviceLists));
            foreach (var user in accepted.Select(a => a.TargetUserId).Distinct(StringComparer.Ordinal))
            {
                await publisher.PublishToPeersAsync(StreamNames.DeviceLists, user, position);
            }
            await AnnounceSelfSignaturesAsync(position, accepted.Where(a => a.TargetUserId == UserId).Select(a => a.TargetKeyId).ToHashSet(StringComparer.Ordinal));
        }
        return failures;
    }

    public async Task DeviceListChangedAsync(CancellationToken cancellationToken)
    {
        var position = await keys.RecordChangeAsync(UserId, publisher.Writer(StreamNames.DeviceLists), cancellationToken);
        await publisher.PublishToPeersAsync(StreamNames.DeviceLists, UserId, position);
    }

    public async Task DeviceChangedAsync(string deviceId, CancellationToken cancellationToken)
    {
        var position = await keys.RecordChangeAsync(UserId, publisher.Writer(StreamNames.DeviceLists), cancellationToken);
        await publisher.PublishToPeersAsync(StreamNames.DeviceLists, UserId, position);
        if (!IsLocal) return;
        // As Synapse: a device without keys yet is announced too, and its name is not (allow_device_name_lookup_over_federation is off).
        var stored = (await keys.GetDeviceKeysAsync([UserId])).FirstOrDefault(d => d.DeviceId == deviceId);
        var deviceKeys = stored is null
            ? null
            : KeySignatureMerge.WithSignatures(StoredJson.Parse(stored.KeyJson)!.AsObject(), UserId, deviceId, await keys.GetSignaturesAsync([UserId], ""));
        await AnnounceDevicesAsync(position, [DeviceUpdate(deviceId, deviceKeys, deleted: false)]);
    }

    public async Task DevicesRemovedAsync(IReadOnlyList<string>? deviceIds, CancellationToken cancellationToken)
    {
        var position = await keys.DeleteDevicesAsync(UserId, deviceIds, publisher.Writer(StreamNames.DeviceLists));
        await publisher.PublishToPeersAsync(StreamNames.DeviceLists, UserId, position);
        await AnnounceDevicesAsync(position, (deviceIds ?? []).Select(d => DeviceUpdate(d, null, deleted: true)).ToList());
    }

    private bool IsLocal => FederationDestinations.IsOurs(UserId, settings.ServerName);

    /// <summary>
    /// The user signed their own keys: other servers hear of a signed device as an <c>m.device_list_update</c> with
    /// its keys and every public signature, and of a signed master key as an <c>m.signing_key_update</c>, as from
    /// Synapse, so their users see this user's devices verified without asking again.
    /// </summary>
    private async Task AnnounceSelfSignaturesAsync(long position, IReadOnlySet<string> signedKeyIds)
    {
        if (!IsLocal || signedKeyIds.Count == 0) return;
        var signatures = await keys.GetSignaturesAsync([UserId], "");
        var devices = (await keys.GetDeviceKeysAsync([UserId])).Where(d => signedKeyIds.Contains(d.DeviceId))
            .Select(d => DeviceUpdate(d.DeviceId, KeySignatureMerge.WithSignatures(StoredJson.Parse(d.KeyJson)!.AsObject(), UserId, d.DeviceId, signatures),
                deleted: false))
            .ToList();
        await AnnounceDevicesAsync(position, devices);
        if ((await StoredCrossSigningKeysAsync()).GetValueOrDefault("master") is { } master && PublicKey(master) is { } masterPublic &&
            signedKeyIds.Contains(masterPublic))
        {
            var update = new JsonObject { ["user_id"] = UserId, ["master_key"] = KeySignatureMerge.Signed(master, UserId, signatures) };
            await federation.SendToUserServersAsync(UserId, new Edu("m.signing_key_update", update), CancellationToken.None);
        }
    }

    /// <summary>
    /// One of our users' devices changed: the servers sharing a room with them hear of it (<c>m.device_list_update</c>,
    /// durably, each with its stream_id and prev_id chain), this grain's turns keeping each user's chain in order.
    /// </summary>
    private Task AnnounceDevicesAsync(long position, IReadOnlyList<JsonObject> updates) =>
        IsLocal && updates.Count > 0 ? deviceLists.AnnounceAsync(UserId, position, updates, CancellationToken.None) : Task.CompletedTask;

    private JsonObject DeviceUpdate(string deviceId, JsonObject? deviceKeys, bool deleted)
    {
        var update = new JsonObject { ["user_id"] = UserId, ["device_id"] = deviceId };
        if (deleted) update["deleted"] = true;
        if (deviceKeys is not null) update["keys"] = deviceKeys.DeepClone();
        return update;
    }

    public Task<long> CreateBackupVersionAsync(string algorithm, JsonObject authData, CancellationToken cancellationToken) =>
        backups.CreateVersionAsync(UserId, algorithm, authData.ToJsonString());

    public async Task UpdateBackupVersionAsync(long version, string algorithm, JsonObject authData, CancellationToken cancellationToken)
    {
        var current = await backups.GetVersionAsync(UserId, version) ?? throw MatrixException.NotFound("No such backup version.");
        if (current.Algorithm != algorithm) throw new MatrixException(400, "M_INVALID_PARAM", "The algorithm of a backup version cannot change.");
        await backups.UpdateAuthDataAsync(UserId, version, authData.ToJsonString());
    }

    public async Task DeleteBackupVersionAsync(long version, CancellationToken cancellationToken)
    {
        if (!await backups.DeleteVersionAsync(UserId, version)) throw MatrixException.NotFound("No such backup version.");
    }

    public async Task<BackupCounts> PutBackupKeysAsync(long version, JsonObject rooms, CancellationToken cancellationToken)
    {
        var current = await backups.GetVersionAsync(UserId, null);
        if (current is null || current.Version != version)
        {
            if (await backups.GetVersionAsync(UserId, version) is null && current is null) throw MatrixException.NotFound("No such backup version.");
            throw new MatrixException(403, "M_WRONG_ROOM_KEYS_VERSION",
                $"Backup version {version} is not the current one ({current?.Version.ToString(CultureInfo.InvariantCulture) ?? "none"}).");
        }
        var sessions = new List<BackedUpSession>();
        foreach (var (roomId, room) in rooms)
        {
            if (room?["sessions"] is not JsonObject roomSessions) throw MatrixException.BadJson($"Room {roomId} needs a 'sessions' object.");
            foreach (var (sessionId, data) in roomSessions)
            {
                sessions.Add(ParseSession(roomId, sessionId, data));
            }
        }
        var (etag, count) = await backups.PutSessionsAsync(UserId, version, sessions);
        return new BackupCounts(etag.ToString(CultureInfo.InvariantCulture), count);
    }

    public async Task<BackupCounts> DeleteBackupKeysAsync(long version, string? roomId, string? sessionId, CancellationToken cancellationToken)
    {
        if (await backups.GetVersionAsync(UserId, version) is null) throw MatrixException.NotFound("No such backup version.");
        var (etag, count) = await backups.DeleteSessionsAsync(UserId, version, roomId, sessionId);
        return new BackupCounts(etag.ToString(CultureInfo.InvariantCulture), count);
    }

    internal static BackedUpSession ParseSession(string roomId, string sessionId, JsonNode? data)
    {
        if (data is not JsonObject o || o["session_data"] is not JsonObject sessionData ||
            o["first_message_index"] is not JsonValue first || !first.TryGetValue<int>(out var firstIndex) ||
            o["forwarded_count"] is not JsonValue forwarded || !forwarded.TryGetValue<int>(out var forwardedCount) ||
            o["is_verified"] is not JsonValue verified || !verified.TryGetValue<bool>(out var isVerified))
        {
            throw MatrixException.BadJson(
                $"Session {sessionId} in {roomId} needs first_message_index, forwarded_count, is_verified and session_data.");
        }
        return new BackedUpSession(roomId, sessionId, firstIndex, forwardedCount, isVerified, sessionData.ToJsonString());
    }

    private async Task<Dictionary<string, JsonObject>> StoredCrossSigningKeysAsync() =>
        (await keys.GetCrossSigningKeysAsync([UserId])).ToDictionary(k => k.KeyType, k => StoredJson.Parse(k.Json)!.AsObject(), StringComparer.Ordinal);

    /// <summary>What this user may sign of <paramref name="targetUser"/>'s keys: their own devices and keys, or another user's master key.</summary>
    private async Task<Dictionary<string, JsonObject>> SignableKeysAsync(string targetUser)
    {
        var result = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var (_, type, json) in await keys.GetCrossSigningKeysAsync([targetUser]))
        {
            if (targetUser != UserId && type != "master") continue;
            var key = StoredJson.Parse(json)!.AsObject();
            if (PublicKey(key) is { } pub) result[pub] = key;
        }
        if (targetUser == UserId)
        {
            foreach (var device in await keys.GetDeviceKeysAsync([UserId])) result[device.DeviceId] = StoredJson.Parse(device.KeyJson)!.AsObject();
        }
        return result;
    }

    private static JsonObject Unsigned(JsonObject key)
    {
        var copy = key.DeepClone().AsObject();
        copy.Remove("signatures");
        copy.Remove("unsigned");
        return copy;
    }

    /// <summary>The one ed25519 public key of a cross-signing key, or null when it holds none or several.</summary>
    internal static string? PublicKey(JsonObject key) =>
        key["keys"] is JsonObject k && k.Count == 1 && k.First() is var (id, value) && id.StartsWith("ed25519:", StringComparison.Ordinal) &&
        value is JsonValue v && v.TryGetValue<string>(out var pub) && id == $"ed25519:{pub}" ? pub : null;

    private static bool VerifySignature(JsonObject signed, string userId, string keyId, string publicKeyBase64)
    {
        try
        {
            return JsonSigning.Verify(signed, userId, keyId, UnpaddedBase64.Decode(publicKeyBase64));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return false;
        }
    }

    private static List<UploadedKey> ParseKeys(JsonObject? keysById, string field)
    {
        var parsed = new List<UploadedKey>();
        foreach (var (id, value) in keysById ?? [])
        {
            var colon = id.IndexOf(':');
            if (colon <= 0 || colon == id.Length - 1 || value is null)
            {
                throw new MatrixException(400, "M_INVALID_PARAM", $"'{field}' keys must be named algorithm:key_id, not '{id}'.");
            }
            // The spec's KeyObject (a 'key' string, signed), or for unsigned curve25519 keys the key itself as a string.
            var wellFormed = value switch
            {
                JsonValue v => v.TryGetValue<string>(out _),
                JsonObject o => o["key"] is JsonValue k && k.TryGetValue<string>(out _) && o["signatures"] is null or JsonObject,
                _ => false,
            };
            if (!wellFormed) throw MatrixException.BadJson($"'{field}.{id}' must be a key string or an object with a 'key' string.");
            parsed.Add(new UploadedKey(id[..colon], id[(colon + 1)..], value.ToJsonString()));
        }
        return parsed;
    }
}
