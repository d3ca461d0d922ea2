using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Orleans;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// Inviting by 3PID (third_party_membership.yaml, spec "Third-party invites"), as Synapse's
/// <c>do_3pid_invite</c>: the identity server is asked who the address belongs to (v2 hashed lookup);
/// a Matrix user is invited as usual; otherwise the identity server stores the invite (and mails the
/// address), and the room gets an <c>m.room.third_party_invite</c> with the token it returned as state
/// key and the keys the eventual member event must be signed with.
/// </summary>
public sealed class ThirdPartyInvites(IdentityServerClient identityServers, RoomAliases rooms, RoomReader reader, IGrainFactory grains, ThreePidLog log)
{
    private const string HashDetailsPath = "_matrix/identity/v2/hash_details";
    private const string LookupPath = "_matrix/identity/v2/lookup";
    private const string StoreInvitePath = "_matrix/identity/v2/store-invite";

    /// <summary>More keys than an identity server has reason to publish is a hostile answer.</summary>
    private const int MaxPublicKeys = 16;

    public sealed record Request(string IdServer, string AccessToken, string Medium, string Address)
    {
        public static Request Parse(JsonObject body)
        {
            if (!body.ContainsKey("id_server") || !body.ContainsKey("id_access_token"))
            {
                throw new MatrixException(400, "M_MISSING_PARAM", "`id_server` and `id_access_token` are required when doing 3pid invite.");
            }
            var medium = Http.JsonBody.RequiredString(body, "medium");
            var address = Http.JsonBody.RequiredString(body, "address");
            if (address.Length > 320) throw new MatrixException(400, "M_INVALID_PARAM", "'address' is too long.");
            return new Request(Http.JsonBody.RequiredString(body, "id_server"), Http.JsonBody.RequiredString(body, "id_access_token"), medium,
                medium == "email" ? ThreePidInput.Email(address) : address);
        }
    }

    public async Task InviteAsync(string sender, string roomId, Request request, CancellationToken cancellationToken)
    {
        // Before the identity server is asked (it mails the address): only a member who may invite gets that far.
        var (auth, version) = await rooms.CurrentAuthStateAsync(roomId);
        if (auth.Membership(sender) != "join") throw MatrixException.Forbidden("You are not in this room.");
        if (auth.PowerLevels(version) is var power && power.UserLevel(sender) < power.Invite)
        {
            throw MatrixException.Forbidden("You do not have permission to invite here.");
        }
        identityServers.BaseUrl(request.IdServer);

        if (await LookupAsync(request, cancellationToken) is { } invitee)
        {
            await grains.GetGrain<IRoomGrain>(roomId).SendEventAsync(
                new SendEventCommand(sender, "m.room.member", invitee, new JsonObject { ["membership"] = "invite" }, null), cancellationToken);
            return;
        }

        var stored = await StoreInviteAsync(sender, roomId, request, auth.Create?["content"]?["type"], auth.JoinRule, cancellationToken);
        await grains.GetGrain<IRoomGrain>(roomId).SendEventAsync(
            new SendEventCommand(sender, "m.room.third_party_invite", stored.Token, stored.Content, null), cancellationToken);
    }

    /// <summary>The Matrix ID bound to the address, or null; a failing lookup is no binding, as in Synapse (the invite is stored instead).</summary>
    private async Task<string?> LookupAsync(Request request, CancellationToken cancellationToken)
    {
        try
        {
            var details = await identityServers.GetAsync(request.IdServer, HashDetailsPath, request.AccessToken, cancellationToken);
            if (!details.Ok) throw identityServers.Relay(request.IdServer, HashDetailsPath, details);
            var algorithms = (details.Body["algorithms"] as JsonArray)?.Select(a => a is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).ToList() ?? [];
            if (details.Body["lookup_pepper"] is not JsonValue pepperValue || !pepperValue.TryGetValue<string>(out var pepper) || pepper.Length == 0)
            {
                throw new MatrixException(502, "M_UNKNOWN", "The identity server gave no lookup_pepper.");
            }
            string algorithm, lookup;
            if (algorithms.Contains("sha256"))
            {
                algorithm = "sha256";
                lookup = UnpaddedBase64.EncodeUrlSafe(SHA256.HashData(Encoding.UTF8.GetBytes($"{request.Address} {request.Medium} {pepper}")));
            }
            else if (algorithms.Contains("none"))
            {
                algorithm = "none";
                lookup = $"{request.Address} {request.Medium}";
            }
            else
            {
                throw new MatrixException(502, "M_UNKNOWN", "The identity server supports no lookup algorithm this server knows.");
            }
            var response = await identityServers.PostAsync(request.IdServer, LookupPath,
                new JsonObject { ["addresses"] = new JsonArray(lookup), ["algorithm"] = algorithm, ["pepper"] = pepper },
                new AuthenticationHeaderValue("Bearer", request.AccessToken), cancellationToken);
            if (!response.Ok) throw identityServers.Relay(request.IdServer, LookupPath, response);
            return response.Body["mappings"]?[lookup] is JsonValue mxid && mxid.TryGetValue<string>(out var text) && UserId.TryParse(text, out var userId)
                ? userId.ToString()
                : null;
        }
        catch (MatrixException e)
        {
            log.LookupFailed(request.IdServer, e.Error);
            return null;
        }
    }

    private sealed record StoredInvite(string Token, JsonObject Content);

    private async Task<StoredInvite> StoreInviteAsync(string sender, string roomId, Request request, JsonNode? roomType, string joinRule,
        CancellationToken cancellationToken)
    {
        var (displayName, avatarUrl) = await reader.GetProfileAsync(sender, cancellationToken);
        var body = new JsonObject
        {
            ["medium"] = request.Medium,
            ["address"] = request.Address,
            ["room_id"] = roomId,
            ["sender"] = sender,
            ["room_join_rules"] = joinRule,
        };
        // The cosmetic fields the identity server puts in its mail, where the room and sender have them.
        if (await StateFieldAsync(roomId, "m.room.name", "name", cancellationToken) is { } name) body["room_name"] = name;
        if (await StateFieldAsync(roomId, "m.room.canonical_alias", "alias", cancellationToken) is { } alias) body["room_alias"] = alias;
        if (await StateFieldAsync(roomId, "m.room.avatar", "url", cancellationToken) is { } avatar) body["room_avatar_url"] = avatar;
        if (roomType is JsonValue type && type.TryGetValue<string>(out var typeText)) body["room_type"] = typeText;
        if (displayName is not null) body["sender_display_name"] = displayName;
        if (avatarUrl is not null) body["sender_avatar_url"] = avatarUrl;

        var response = await identityServers.PostAsync(request.IdServer, StoreInvitePath, body,
            new AuthenticationHeaderValue("Bearer", request.AccessToken), cancellationToken);
        if (!response.Ok) throw identityServers.Relay(request.IdServer, StoreInvitePath, response);
        var token = String(response.Body, "token");
        var shownName = String(response.Body, "display_name");
        if (token is not { Length: > 0 and <= 255 } || shownName is not { Length: <= 1000 })
        {
            throw new MatrixException(502, "M_UNKNOWN", "The identity server's answer to store-invite lacks a token or display_name.");
        }
        var keys = new JsonArray();
        foreach (var key in response.Body["public_keys"] as JsonArray ?? [])
        {
            if (key is JsonObject k && String(k, "public_key") is { Length: > 0 and <= 256 } publicKey && String(k, "key_validity_url") is { Length: <= 2048 } url)
            {
                keys.Add(new JsonObject { ["public_key"] = publicKey, ["key_validity_url"] = url });
            }
        }
        if (keys.Count > MaxPublicKeys) throw new MatrixException(502, "M_UNKNOWN", "The identity server returned too many public keys.");
        // As Synapse: a lone public_key comes with the identity server's standard validity URL, and stands in when no list came.
        JsonObject fallback;
        if (String(response.Body, "public_key") is { Length: > 0 and <= 256 } lone)
        {
            fallback = new JsonObject { ["public_key"] = lone, ["key_validity_url"] = new Uri(identityServers.BaseUrl(request.IdServer), "_matrix/identity/v2/pubkey/isvalid").ToString() };
            if (keys.Count == 0) keys.Add(fallback.DeepClone());
        }
        else
        {
            fallback = keys.FirstOrDefault() as JsonObject ?? throw new MatrixException(502, "M_UNKNOWN", "The identity server returned no public key.");
        }
        return new StoredInvite(token, new JsonObject
        {
            ["display_name"] = shownName,
            ["key_validity_url"] = fallback["key_validity_url"]!.DeepClone(),
            ["public_key"] = fallback["public_key"]!.DeepClone(),
            ["public_keys"] = keys,
        });
    }

    private async Task<string?> StateFieldAsync(string roomId, string type, string field, CancellationToken cancellationToken)
    {
        var rows = await reader.GetCurrentStateAsync(roomId, type, "", cancellationToken);
        return rows.Count == 0 ? null : String(StoredJson.Parse(rows[0].Json)?["content"] as JsonObject, field);
    }

    private static string? String(JsonObject? obj, string key) => obj?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
