using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Microsoft.Extensions.DependencyInjection;
using Homeserver.ApiHost.ClientApi.Federation;

namespace Homeserver.ApiHost.ClientApi.Rooms;

public static class CreateRoomEndpoints
{
    private static readonly HashSet<string> Presets = ["private_chat", "public_chat", "trusted_private_chat"];

    public static IEndpointRouteBuilder MapCreateRoomApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions) app.MapPost($"/_matrix/client/{version}/createRoom", CreateAsync);
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, AccessTokenAuthentication auth, ProcessSettings settings,
        RoomReader rooms, IGrainFactory grains, RoomAliases aliases, DirectoryStore directory, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);

        var visibility = body.OptionalString("visibility") ?? "private";
        if (visibility is not ("public" or "private")) throw new MatrixException(400, "M_INVALID_PARAM", "'visibility' must be public or private.");
        var preset = body.OptionalString("preset") ?? (visibility == "public" ? "public_chat" : "private_chat");
        if (!Presets.Contains(preset)) throw new MatrixException(400, "M_INVALID_PARAM", $"Unknown preset '{preset}'.");
        var roomVersion = body.OptionalString("room_version") ?? RoomVersions.DefaultId;
        if (!RoomVersions.TryGet(roomVersion, out _))
        {
            throw new MatrixException(400, "M_UNSUPPORTED_ROOM_VERSION", $"Room version '{roomVersion}' is not supported.");
        }
        string? alias = null;
        if (body.OptionalString("room_alias_name") is { } aliasName)
        {
            alias = aliases.LocalAlias($"#{aliasName}:{settings.ServerName}");
            if (await directory.FindAliasAsync(alias) is not null) throw MatrixException.RoomInUse($"Room alias {alias} already exists.");
        }

        var invite = body["invite"] switch
        {
            null => [],
            JsonArray list => list.Select(i => RoomPaths.UserIdFrom(i is JsonValue v && v.TryGetValue<string>(out var s) ? s : "", "invite")).ToList(),
            _ => throw new MatrixException(400, "M_BAD_JSON", "'invite' must be a list of user IDs."),
        };
        var initialState = body["initial_state"] switch
        {
            null => [],
            JsonArray list => list.Select(StateDraft).ToList(),
            _ => throw new MatrixException(400, "M_BAD_JSON", "'initial_state' must be a list of state events."),
        };

        var member = await rooms.AddProfileAsync(user.UserId, []);

        var roomId = RoomId.New(ServerName.Parse(settings.ServerName)).ToString();
        var created = await grains.GetGrain<IRoomGrain>(roomId).CreateAsync(new CreateRoomCommand(
            user.UserId, roomVersion, preset,
            CreationContent: body.OptionalObject("creation_content"),
            CreatorMemberContent: member,
            PowerLevelContentOverride: body.OptionalObject("power_level_content_override"),
            InitialState: initialState,
            Name: body.OptionalString("name"),
            Topic: body.OptionalString("topic"),
            Invite: [.. invite.Where(i => !IsRemote(i))],
            IsDirect: body.OptionalBool("is_direct", false),
            CanonicalAlias: alias,
            RemoteInvite: [.. invite.Where(IsRemote)]), http.RequestAborted);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (alias is not null && !await directory.CreateAliasAsync(alias, created.RoomId, user.UserId, now))
        {
            throw MatrixException.RoomInUse($"Room alias {alias} was taken while the room was being created.");
        }
        if (visibility == "public") await directory.SetPublishedAsync(created.RoomId, true, now);
        var remoteMemberships = http.RequestServices.GetRequiredService<RemoteMemberships>();
        foreach (var invitee in invite.Where(IsRemote))
        {
            var content = new JsonObject { ["membership"] = "invite" };
            if (body.OptionalBool("is_direct", false)) content["is_direct"] = true;
            // The room stands: an invite another server refuses does not undo it.
            await remoteMemberships.TryInviteAsync(created.RoomId, new SendEventCommand(user.UserId, "m.room.member", invitee, content, null), http.RequestAborted);
        }
        return Results.Json(new { room_id = created.RoomId });

        bool IsRemote(string userId) => UserId.Parse(userId).Server.ToString() != settings.ServerName;
    }

    private static StateEventDraft StateDraft(JsonNode? node)
    {
        if (node is not JsonObject e) throw new MatrixException(400, "M_BAD_JSON", "Each 'initial_state' entry must be an object.");
        var type = e.RequiredString("type");
        if (type is "m.room.create" or "m.room.member" or "m.room.power_levels")
        {
            throw new MatrixException(400, "M_INVALID_PARAM", $"'initial_state' may not set {type}.");
        }
        return new StateEventDraft(type, e.OptionalString("state_key") ?? "",
            e.OptionalObject("content") ?? throw new MatrixException(400, "M_MISSING_PARAM", "An 'initial_state' entry has no content."));
    }
}
