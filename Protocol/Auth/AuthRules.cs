using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The spec's authorization rules (room versions 1 to 11) for one event against the state before it.
///
/// The rules are applied in the spec's order and the first that decides wins, so each check below
/// carries the spec's rule number in its denial. Differences between versions are read from
/// <see cref="RoomVersion"/>: knocking (v7), restricted joins (v8), knock_restricted and integer
/// power levels (v10), the creator as the create event's sender (v11), the aliases special case
/// (v1-v5) and server-side redaction checks (v1-v2). A third-party invite is redeemed only with a
/// signature by one of the keys its m.room.third_party_invite event published.
/// </summary>
public static class AuthRules
{
    public static AuthResult Check(JsonObject evt, RoomAuthState state, RoomVersion version, int stateEventCount)
    {
        var type = Text(evt, "type") ?? "";
        var sender = Text(evt, "sender") ?? "";
        var stateKey = Text(evt, "state_key");
        if (!UserId.TryParse(sender, out var senderId)) return AuthResult.Deny("the sender is not a valid user ID");

        if (type == "m.room.create") return CheckCreate(evt, senderId, version);

        var create = state.Create;
        if (create is null) return AuthResult.Deny("rule 3: the room has no create event");
        if (create["content"]?["m.federate"] is JsonValue federate && federate.TryGetValue<bool>(out var f) && !f &&
            UserId.TryParse(Text(create, "sender"), out var creator) && creator.Server != senderId.Server)
        {
            return AuthResult.Deny("rule 4: the room does not federate and the sender is on another server");
        }

        if (type == "m.room.aliases" && version.AliasesSpecialCased)
        {
            if (stateKey is null) return AuthResult.Deny("rule 5: an aliases event needs a state key");
            return stateKey == senderId.Server.ToString() ? AuthResult.Allow : AuthResult.Deny("rule 5: aliases may only be set for the sender's server");
        }

        if (type == "m.room.member") return CheckMember(evt, senderId.ToString(), stateKey, state, version, stateEventCount);

        var power = state.PowerLevels(version);
        if (state.Membership(sender) != "join") return AuthResult.Deny("rule 7: the sender is not joined to the room");

        if (type == "m.room.third_party_invite")
        {
            return power.UserLevel(sender) >= power.Invite ? AuthResult.Allow : AuthResult.Deny("rule 8: insufficient power to invite");
        }

        if (power.RequiredFor(type, stateKey is not null) > power.UserLevel(sender))
        {
            return AuthResult.Deny($"rule 9: sending {type} needs power level {power.RequiredFor(type, stateKey is not null)}");
        }
        if (stateKey is not null && stateKey.StartsWith('@') && stateKey != sender)
        {
            return AuthResult.Deny("rule 10: a state key that is a user ID must be the sender's");
        }
        if (type == "m.room.power_levels") return CheckPowerLevels(evt, sender, state, version);

        if (type == "m.room.redaction" && version.Number <= 2)
        {
            if (power.UserLevel(sender) >= power.Redact) return AuthResult.Allow;
            var redacts = Text(evt, "redacts") ?? "";
            var colon = redacts.IndexOf(':');
            return colon > 0 && redacts[(colon + 1)..] == senderId.Server.ToString()
                ? AuthResult.Allow
                : AuthResult.Deny("rule 12: insufficient power to redact another server's event");
        }
        return AuthResult.Allow;
    }

    private static AuthResult CheckCreate(JsonObject evt, UserId sender, RoomVersion version)
    {
        if (evt["prev_events"] is JsonArray { Count: > 0 }) return AuthResult.Deny("rule 1.1: a create event has no previous events");
        if (RoomId.TryParse(Text(evt, "room_id"), out var roomId) && roomId.Server is { } server && server != sender.Server)
        {
            return AuthResult.Deny("rule 1.2: the room ID's server must be the sender's");
        }
        var content = evt["content"] as JsonObject;
        if (content?["room_version"] is { } v && (v is not JsonValue value || !value.TryGetValue<string>(out var id) || !RoomVersions.TryGet(id, out _)))
        {
            return AuthResult.Deny("rule 1.3: unknown room version");
        }
        if (!version.CreatorIsSender && content?["creator"] is null) return AuthResult.Deny("rule 1.4: the create event has no creator");
        return AuthResult.Allow;
    }

    private static AuthResult CheckMember(JsonObject evt, string sender, string? target, RoomAuthState state, RoomVersion version,
        int stateEventCount)
    {
        var content = evt["content"] as JsonObject;
        var membership = content?["membership"] is JsonValue m && m.TryGetValue<string>(out var ms) ? ms : null;
        if (target is null || membership is null) return AuthResult.Deny("rule 6.1: a member event needs a state key and a membership");

        var power = state.PowerLevels(version);
        var senderMembership = state.Membership(sender);
        var targetMembership = state.Membership(target);
        var senderLevel = power.UserLevel(sender);
        var targetLevel = power.UserLevel(target);
        var joinRule = state.JoinRule;

        switch (membership)
        {
            case "join":
                // The creator's own join right after the create event.
                if (stateEventCount == 1 && target == state.Creator(version) && evt["prev_events"] is JsonArray { Count: 1 }) return AuthResult.Allow;
                if (sender != target) return AuthResult.Deny("rule 6.3.2: only the user can join themselves");
                if (senderMembership == "ban") return AuthResult.Deny("rule 6.3.3: the user is banned");
                if (joinRule == "invite" || (version.KnockAllowed && joinRule == "knock"))
                {
                    return senderMembership is "join" or "invite" ? AuthResult.Allow : AuthResult.Deny("rule 6.3.4: the room is invite-only");
                }
                if ((version.RestrictedJoinAllowed && joinRule == "restricted") || (version.KnockRestrictedAllowed && joinRule == "knock_restricted"))
                {
                    if (senderMembership is "join" or "invite") return AuthResult.Allow;
                    var via = content!["join_authorised_via_users_server"] is JsonValue j && j.TryGetValue<string>(out var u) ? u : null;
                    return via is not null && state.Membership(via) == "join" && power.UserLevel(via) >= power.Invite
                        ? AuthResult.Allow
                        : AuthResult.Deny("rule 6.3.5: the join is not authorised by a member who may invite");
                }
                return joinRule == "public" ? AuthResult.Allow : AuthResult.Deny("rule 6.3.7: the room's join rule does not allow joining");
            case "invite":
                if (content!["third_party_invite"] is { } thirdParty) return CheckThirdPartyInvite(thirdParty, sender, target, targetMembership, state);
                if (senderMembership != "join") return AuthResult.Deny("rule 6.4.2: the inviter is not joined");
                if (targetMembership is "join" or "ban") return AuthResult.Deny($"rule 6.4.3: the user is already {(targetMembership == "join" ? "joined" : "banned")}");
                return senderLevel >= power.Invite ? AuthResult.Allow : AuthResult.Deny("rule 6.4.4: insufficient power to invite");
            case "leave":
                if (sender == target)
                {
                    return targetMembership is "invite" or "join" || (version.KnockAllowed && targetMembership == "knock")
                        ? AuthResult.Allow
                        : AuthResult.Deny("rule 6.5.1: the user is not in the room");
                }
                if (senderMembership != "join") return AuthResult.Deny("rule 6.5.2: the sender is not joined");
                if (targetMembership == "ban" && senderLevel < power.Ban) return AuthResult.Deny("rule 6.5.3: insufficient power to unban");
                return senderLevel >= power.Kick && targetLevel < senderLevel
                    ? AuthResult.Allow
                    : AuthResult.Deny("rule 6.5.4: insufficient power to kick this user");
            case "ban":
                if (senderMembership != "join") return AuthResult.Deny("rule 6.6.1: the sender is not joined");
                return senderLevel >= power.Ban && targetLevel < senderLevel
                    ? AuthResult.Allow
                    : AuthResult.Deny("rule 6.6.2: insufficient power to ban this user");
            case "knock" when version.KnockAllowed:
                if (joinRule != "knock" && !(version.KnockRestrictedAllowed && joinRule == "knock_restricted"))
                {
                    return AuthResult.Deny("rule 6.7.1: the room does not allow knocking");
                }
                if (sender != target) return AuthResult.Deny("rule 6.7.2: only the user can knock for themselves");
                return senderMembership is "ban" or "invite" or "join"
                    ? AuthResult.Deny($"rule 6.7.3: the user's membership is already {senderMembership}")
                    : AuthResult.Allow;
            default:
                return AuthResult.Deny($"rule 6.8: unknown membership {membership}");
        }
    }

    /// <summary>Rule 6.4.1: an invite that redeems a third-party invite, checked against the room's m.room.third_party_invite keys.</summary>
    private static AuthResult CheckThirdPartyInvite(JsonNode thirdParty, string sender, string target, string? targetMembership, RoomAuthState state)
    {
        if (targetMembership == "ban") return AuthResult.Deny("rule 6.4.1.1: the user is banned");
        if (thirdParty["signed"] is not JsonObject signed) return AuthResult.Deny("rule 6.4.1.2: the third-party invite is not signed");
        var mxid = signed["mxid"] is JsonValue m && m.TryGetValue<string>(out var mx) ? mx : null;
        var token = signed["token"] is JsonValue t && t.TryGetValue<string>(out var tk) ? tk : null;
        if (mxid is null || token is null) return AuthResult.Deny("rule 6.4.1.3: 'signed' needs mxid and token");
        if (mxid != target) return AuthResult.Deny("rule 6.4.1.4: 'mxid' is not the invited user");
        var invite = state.Get("m.room.third_party_invite", token);
        if (invite is null) return AuthResult.Deny("rule 6.4.1.5: no third-party invite with this token");
        if (Text(invite, "sender") != sender) return AuthResult.Deny("rule 6.4.1.6: the sender did not issue the third-party invite");

        if (ThirdPartyInviteKeys.PublishedBy(invite["content"]).Any(key => ThirdPartyInviteKeys.Signs(signed, key.PublicKey))) return AuthResult.Allow;
        return AuthResult.Deny("rule 6.4.1.7: no signature in 'signed' matches the third-party invite's keys");
    }

    private static readonly string[] LevelKeys = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"];

    private static AuthResult CheckPowerLevels(JsonObject evt, string sender, RoomAuthState state, RoomVersion version)
    {
        var content = evt["content"] as JsonObject ?? [];
        if (version.EnforceIntegerPowerLevels)
        {
            foreach (var key in LevelKeys)
            {
                if (content[key] is { } node && !PowerLevels.TryLevel(node, strict: true, out _)) return AuthResult.Deny($"rule 11.1: '{key}' must be an integer");
            }
            foreach (var map in new[] { "users", "events", "notifications" })
            {
                if (content[map] is JsonObject o && o.Any(kv => kv.Value is null || !PowerLevels.TryLevel(kv.Value, strict: true, out _)))
                {
                    return AuthResult.Deny($"rule 11.1: every value in '{map}' must be an integer");
                }
            }
        }
        if (content["users"] is JsonObject users && users.Any(kv => !UserId.TryParse(kv.Key, out _)))
        {
            return AuthResult.Deny("rule 11.2: 'users' has a key that is not a user ID");
        }
        var previous = state.Get("m.room.power_levels")?["content"] as JsonObject;
        if (previous is null) return AuthResult.Allow;

        var senderLevel = state.PowerLevels(version).UserLevel(sender);
        foreach (var key in LevelKeys)
        {
            if (Changed(previous[key], content[key], senderLevel)) return AuthResult.Deny($"rule 11.4: changing '{key}' beyond the sender's power");
        }
        foreach (var map in version.Number >= 6 ? new[] { "events", "notifications" } : ["events"])
        {
            var before = previous[map] as JsonObject ?? [];
            var after = content[map] as JsonObject ?? [];
            foreach (var key in before.Select(kv => kv.Key).Union(after.Select(kv => kv.Key)))
            {
                if (Changed(before[key], after[key], senderLevel)) return AuthResult.Deny($"rule 11.5: changing '{map}.{key}' beyond the sender's power");
            }
        }
        var oldUsers = previous["users"] as JsonObject ?? [];
        var newUsers = content["users"] as JsonObject ?? [];
        foreach (var user in oldUsers.Select(kv => kv.Key).Union(newUsers.Select(kv => kv.Key)))
        {
            var old = Level(oldUsers[user]);
            var @new = Level(newUsers[user]);
            if (old == @new) continue;
            if (user != sender && old is { } o && o >= senderLevel) return AuthResult.Deny("rule 11.6: changing the level of a user at or above the sender's");
            if (@new is { } n && n > senderLevel) return AuthResult.Deny("rule 11.7: raising a user above the sender's level");
        }
        return AuthResult.Allow;
    }

    /// <summary>A level was added, removed or changed, and the old or new value exceeds what the sender holds.</summary>
    private static bool Changed(JsonNode? before, JsonNode? after, long senderLevel)
    {
        var old = Level(before);
        var @new = Level(after);
        if (old == @new) return false;
        return (old is { } o && o > senderLevel) || (@new is { } n && n > senderLevel);
    }

    private static long? Level(JsonNode? node) => node is not null && PowerLevels.TryLevel(node, strict: false, out var l) ? l : null;

    private static string? Text(JsonObject obj, string key) => obj[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
