using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Push;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Protocol;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>
/// <c>POST /rooms/{roomId}/upgrade</c> in the spec's order ("Room Upgrades", server behaviour): a
/// replacement room whose create event names its predecessor, the transferable state, bans and
/// power levels copied, local aliases and the directory listing moved, the tombstone, and the old
/// room's power levels raised so that nobody chats or invites there any more. Local members' tags
/// follow them, as Synapse copies them.
/// </summary>
public static class RoomUpgradeEndpoints
{
    /// <summary>The spec's recommended transferable state (power levels go with the create call), and a space's children.</summary>
    private static readonly string[] TransferredTypes =
    [
        "m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic", "m.room.guest_access",
        "m.room.history_visibility", "m.room.join_rules", "m.room.canonical_alias", "m.space.child",
    ];

    /// <summary>One upgrade of a room by a user at a time: a client's retry of the same request gets the same replacement room.</summary>
    private static readonly ConcurrentDictionary<(string RoomId, string UserId, string Version), Lazy<Task<string>>> InFlight = new();

    public static IEndpointRouteBuilder MapRoomUpgradeApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions) app.MapPost($"/_matrix/client/{version}/rooms/{{roomId}}/upgrade", UpgradeAsync);
        return app;
    }

    private static async Task<IResult> UpgradeAsync(HttpContext http, string roomId, AccessTokenAuthentication auth, ProcessSettings settings,
        RoomReader rooms, RoomAliases aliases, DirectoryStore directory, AccountDataStore accountData, IGrainFactory grains, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var oldRoom = RoomPaths.RoomIdFrom(roomId);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var newVersion = body.RequiredString("new_version");
        if (!RoomVersions.TryGet(newVersion, out var version))
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version '{newVersion}' is not supported.");
        }
        // additional_creators (v1.16) applies from room version 12, which this server does not offer: checked for shape, then ignored.
        if (body["additional_creators"] is { } creators &&
            (creators is not JsonArray list || list.Any(c => c is not JsonValue v || !v.TryGetValue<string>(out _))))
        {
            throw new MatrixException(400, "M_BAD_JSON", "'additional_creators' must be a list of user IDs.");
        }
        var (state, oldVersion) = await aliases.CurrentAuthStateAsync(oldRoom);
        if (await rooms.GetMembershipAsync(oldRoom, user.UserId) != "join") throw MatrixException.Forbidden("You are not in this room.");
        var powerLevels = state.PowerLevels(oldVersion);
        if (powerLevels.UserLevel(user.UserId) < powerLevels.RequiredFor("m.room.tombstone", isState: true))
        {
            throw MatrixException.Forbidden("You do not have the power to upgrade this room.");
        }

        var key = (oldRoom, user.UserId, version.Id);
        var upgrade = InFlight.GetOrAdd(key, _ => new Lazy<Task<string>>(() =>
            ReplaceRoomAsync(oldRoom, user.UserId, version, settings, rooms, aliases, directory, accountData, grains, clock)));
        try
        {
            return Results.Json(new { replacement_room = await upgrade.Value });
        }
        finally
        {
            InFlight.TryRemove(KeyValuePair.Create(key, upgrade));
        }
    }

    private static async Task<string> ReplaceRoomAsync(string oldRoom, string userId, RoomVersion version, ProcessSettings settings,
        RoomReader rooms, RoomAliases aliases, DirectoryStore directory, AccountDataStore accountData, IGrainFactory grains, TimeProvider clock)
    {
        // The work goes on if the client goes away: a half-done upgrade helps nobody.
        var cancellation = CancellationToken.None;
        var state = (await rooms.GetCurrentStateAsync(oldRoom)).Select(r => StoredJson.Parse(r.Json)!.AsObject()).ToList();
        JsonObject? StateContent(string type) => state.FirstOrDefault(e => Is(e, type, ""))?["content"] as JsonObject;
        var lastEvent = (await rooms.GetTimelineAsync(oldRoom, await rooms.GetLastRoomSeqAsync(oldRoom) + 1, backwards: true, 1)).Single();

        var creation = new JsonObject { ["predecessor"] = new JsonObject { ["room_id"] = oldRoom, ["event_id"] = lastEvent.EventId } };
        var oldCreate = StateContent("m.room.create") ?? [];
        foreach (var copied in new[] { "type", "m.federate" })
        {
            if (oldCreate[copied] is { } value) creation[copied] = value.DeepClone();
        }

        // The upgrader sends all the copied state, so for the creation they stand at least as high as any of it needs;
        // the old levels are restored after.
        var oldPowerLevels = StateContent("m.room.power_levels");
        var levels = PowerLevels.From(oldPowerLevels, userId);
        JsonObject? creationLevels = null;
        var raised = false;
        if (oldPowerLevels is not null)
        {
            creationLevels = Integers(oldPowerLevels);
            var needed = new[] { levels.StateDefault, levels.Ban, levels.RequiredFor("m.room.power_levels", true) }
                .Concat(TransferredTypes.Select(t => levels.RequiredFor(t, true))).Max();
            if (levels.UserLevel(userId) < needed)
            {
                var users = creationLevels["users"] as JsonObject ?? [];
                users[userId] = needed;
                creationLevels["users"] = users;
                raised = true;
            }
        }

        var transferred = new List<StateEventDraft>();
        foreach (var e in state.Where(e => TransferredTypes.Contains(e["type"]!.GetValue<string>())))
        {
            var type = e["type"]!.GetValue<string>();
            var stateKey = e["state_key"]!.GetValue<string>();
            if (type == "m.space.child" ? oldCreate["type"]?.GetValue<string>() != "m.space" : stateKey.Length > 0) continue;
            if (e["content"] is not JsonObject content || content.Count == 0) continue;
            transferred.Add(new StateEventDraft(type, stateKey, JoinRulesFor(version, type, content)));
        }

        var newRoom = RoomId.New(ServerName.Parse(settings.ServerName)).ToString();
        var member = await rooms.AddProfileAsync(userId, []);
        var oldJoinRule = StateContent("m.room.join_rules")?["join_rule"]?.GetValue<string>();
        await grains.GetGrain<IRoomGrain>(newRoom).CreateAsync(new CreateRoomCommand(
            userId, version.Id, oldJoinRule == "public" ? "public_chat" : "private_chat",
            CreationContent: creation, CreatorMemberContent: member, PowerLevelContentOverride: creationLevels,
            InitialState: transferred), cancellation);
        var room = grains.GetGrain<IRoomGrain>(newRoom);

        // Bans carry over (Synapse copies them), as far as the upgrader may ban each user.
        foreach (var ban in state.Where(e => e["type"]?.GetValue<string>() == "m.room.member" && e["content"]?["membership"]?.GetValue<string>() == "ban"))
        {
            var content = new JsonObject { ["membership"] = "ban" };
            if (ban["content"]?["reason"] is { } reason) content["reason"] = reason.DeepClone();
            await SendIfAllowedAsync(room, new SendEventCommand(userId, "m.room.member", ban["state_key"]!.GetValue<string>(), content, null));
        }
        if (raised) await room.SendEventAsync(new SendEventCommand(userId, "m.room.power_levels", "", Integers(oldPowerLevels!), null), cancellation);

        // Local members' tags and push rules about the room follow them to the new room.
        var localSuffix = ":" + settings.ServerName;
        foreach (var local in state.Where(e => e["type"]?.GetValue<string>() == "m.room.member" && e["content"]?["membership"]?.GetValue<string>() == "join")
                     .Select(e => e["state_key"]!.GetValue<string>()).Where(u => u.EndsWith(localSuffix, StringComparison.Ordinal)))
        {
            if (await accountData.GetAsync(local, oldRoom, "m.tag") is { } tags && StoredJson.Parse(tags) is JsonObject tagContent)
            {
                await grains.GetGrain<IUserGrain>(local).SetAccountDataAsync(newRoom, "m.tag", tagContent, cancellation);
            }
            await grains.GetGrain<IPushRulesGrain>(local).CopyRoomRulesAsync(oldRoom, newRoom, cancellation);
        }

        // Aliases and the directory listing move; the old room's canonical alias stops naming them.
        await directory.MoveAliasesAsync(oldRoom, newRoom, cancellation);
        if (await directory.IsPublishedAsync(oldRoom, cancellation))
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            await directory.SetPublishedAsync(newRoom, true, now, cancellation);
            await directory.SetPublishedAsync(oldRoom, false, now, cancellation);
        }
        await aliases.RemoveFromCanonicalAliasAsync(oldRoom, _ => true, userId, grains, cancellation);

        var oldRoomGrain = grains.GetGrain<IRoomGrain>(oldRoom);
        await oldRoomGrain.SendEventAsync(new SendEventCommand(userId, "m.room.tombstone", "",
            new JsonObject { ["body"] = "This room has been replaced", ["replacement_room"] = newRoom }, null), cancellation);

        // Nobody below moderator talks or invites in the old room any more, if the upgrader may say so.
        if (oldPowerLevels is not null)
        {
            var restricted = Math.Max(50, levels.UsersDefault + 1);
            if (levels.EventsDefault < restricted || levels.Invite < restricted)
            {
                var content = oldPowerLevels.DeepClone().AsObject();
                content["events_default"] = Math.Max(levels.EventsDefault, restricted);
                content["invite"] = Math.Max(levels.Invite, restricted);
                await SendIfAllowedAsync(oldRoomGrain, new SendEventCommand(userId, "m.room.power_levels", "", content, null));
            }
        }
        return newRoom;
    }

    private static bool Is(JsonObject e, string type, string stateKey) =>
        e["type"]?.GetValue<string>() == type && e["state_key"]?.GetValue<string>() == stateKey;

    /// <summary>Power levels as integers: rooms before version 10 may hold "50", which the new room version may refuse.</summary>
    private static JsonObject Integers(JsonObject powerLevels)
    {
        JsonNode? Convert(JsonNode? node) => node switch
        {
            JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Convert(p.Value)))),
            JsonValue v when PowerLevels.TryLevel(v, strict: false, out var level) => JsonValue.Create(level),
            _ => node?.DeepClone(),
        };
        return (JsonObject)Convert(powerLevels)!;
    }

    /// <summary>A join rule the new room version does not know (restricted before v8, knock before v7) becomes invite.</summary>
    private static JsonObject JoinRulesFor(RoomVersion version, string type, JsonObject content)
    {
        if (type != "m.room.join_rules") return content;
        var rule = content["join_rule"]?.GetValue<string>();
        var known = rule switch
        {
            "knock" => version.KnockAllowed,
            "restricted" => version.RestrictedJoinAllowed,
            "knock_restricted" => version.KnockRestrictedAllowed,
            _ => true,
        };
        return known ? content : new JsonObject { ["join_rule"] = "invite" };
    }

    private static async Task SendIfAllowedAsync(IRoomGrain room, SendEventCommand command)
    {
        try
        {
            await room.SendEventAsync(command);
        }
        catch (MatrixException e) when (e.StatusCode == 403)
        {
            // Not within the upgrader's power: the rest of the upgrade stands.
        }
    }
}
