using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Storage.EndToEnd;

namespace Homeserver.ApiHost.ClientApi.EndToEnd;

/// <summary>
/// Device and cross-signing keys of this server's users, as /keys/query answers a local client and
/// /user/keys/query another server. A client sees its own user-signing key and the signatures it made;
/// another server sees only what each user signed of their own keys, and device names only if allowed.
/// </summary>
public static class LocalKeyQuery
{
    /// <summary>Keys of <paramref name="wanted"/> (a null device set is every device) as seen by <paramref name="viewer"/> (null: another server).</summary>
    public static async Task<JsonObject> QueryAsync(EndToEndKeyStore keys, IReadOnlyDictionary<string, HashSet<string>?> wanted, string? viewer,
        bool includeDisplayNames, CancellationToken cancellationToken)
    {
        var userIds = wanted.Keys.ToList();
        // No user ID is empty, so a server viewer matches only the owners' own signatures.
        var signatures = await keys.GetSignaturesAsync(userIds, viewer ?? "", cancellationToken);
        var deviceKeys = new JsonObject();
        foreach (var userId in userIds) deviceKeys[userId] = new JsonObject();
        foreach (var row in await keys.GetDeviceKeysAsync(userIds, cancellationToken))
        {
            if (wanted[row.UserId] is { } only && !only.Contains(row.DeviceId)) continue;
            var key = KeySignatureMerge.WithSignatures(StoredJson.Parse(row.KeyJson)!.AsObject(), row.UserId, row.DeviceId, signatures);
            if (includeDisplayNames && row.DisplayName is not null) key["unsigned"] = new JsonObject { ["device_display_name"] = row.DisplayName };
            deviceKeys[row.UserId]![row.DeviceId] = key;
        }
        var response = new JsonObject { ["device_keys"] = deviceKeys, ["master_keys"] = new JsonObject(), ["self_signing_keys"] = new JsonObject() };
        if (viewer is not null) response["user_signing_keys"] = new JsonObject();
        foreach (var (userId, type, json) in await keys.GetCrossSigningKeysAsync(userIds, cancellationToken))
        {
            // A user-signing key is private to its owner: only they see it.
            if (type == "user_signing" && userId != viewer) continue;
            response[$"{type}_keys"]![userId] = KeySignatureMerge.Signed(StoredJson.Parse(json)!.AsObject(), userId, signatures);
        }
        return response;
    }
}
