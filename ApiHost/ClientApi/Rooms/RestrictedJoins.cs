using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>What this server can say of a user's join to a restricted room (see <see cref="RestrictedJoins"/>).</summary>
public enum RestrictedJoinCheck
{
    /// <summary>The room is not restricted, or the user is invited or joined already: no authorisation needed.</summary>
    NotNeeded,

    /// <summary>The user is in an allowed room and a user of this server may authorise the join.</summary>
    Authorised,

    /// <summary>This server is in none of the allowed rooms, so cannot tell (M_UNABLE_TO_AUTHORISE_JOIN).</summary>
    NoConditionKnown,

    /// <summary>The user is in none of the allowed rooms this server is in (403).</summary>
    NotAllowed,

    /// <summary>The user may join, but no user of this server may invite (M_UNABLE_TO_GRANT_JOIN).</summary>
    NoInviter,
}

/// <summary>
/// Restricted rooms (room versions 8+, client-server and server-server "Restricted rooms"): a user who is neither
/// invited nor joined may join when they are joined to one of the rooms the join rule's <c>allow</c> lists, and a
/// user of the server that makes the join, able to invite, vouches for it (<c>join_authorised_via_users_server</c>).
/// The server can only tell for allowed rooms it is in; the authorising user must be its own, since its signature
/// is the one the auth rules then require. The member with the highest power level is chosen, as Synapse does.
/// </summary>
public sealed class RestrictedJoins(RoomReader rooms, RoomAliases current, ProcessSettings settings)
{
    public async Task<(RestrictedJoinCheck Check, string? Via)> CheckAsync(string roomId, string userId, CancellationToken cancellationToken = default)
    {
        if (await rooms.GetMembershipAsync(roomId, userId) is "join" or "invite") return (RestrictedJoinCheck.NotNeeded, null);
        var joinRules = await rooms.GetCurrentStateAsync(roomId, "m.room.join_rules", "", cancellationToken);
        var content = joinRules is [var row] ? StoredJson.Parse(row.Json)?["content"] : null;
        if (Text(content?["join_rule"]) is not ("restricted" or "knock_restricted")) return (RestrictedJoinCheck.NotNeeded, null);

        var known = false;
        var allowed = false;
        foreach (var rule in content!["allow"] as JsonArray ?? [])
        {
            if (Text(rule?["type"]) != "m.room_membership" || Text(rule?["room_id"]) is not { } other) continue;
            if (!(await rooms.GetJoinedServersAsync(other, cancellationToken)).Contains(settings.ServerName)) continue;
            known = true;
            if (await rooms.GetMembershipAsync(other, userId) == "join")
            {
                allowed = true;
                break;
            }
        }
        if (!known) return (RestrictedJoinCheck.NoConditionKnown, null);
        if (!allowed) return (RestrictedJoinCheck.NotAllowed, null);
        var (auth, version) = await current.CurrentAuthStateAsync(roomId);
        var power = auth.PowerLevels(version);
        var via = auth.Members("join")
            .Where(member => UserId.TryParse(member, out var m) && m.Server.ToString() == settings.ServerName && power.UserLevel(member) >= power.Invite)
            .OrderByDescending(power.UserLevel)
            .ThenBy(member => member, StringComparer.Ordinal)
            .FirstOrDefault();
        return via is null ? (RestrictedJoinCheck.NoInviter, null) : (RestrictedJoinCheck.Authorised, via);
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
