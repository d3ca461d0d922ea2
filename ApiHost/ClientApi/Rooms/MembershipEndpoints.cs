using Homeserver.Protocol;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Federation;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.ApiHost.ThreePids;
using Homeserver.Configuration.Processes;
using Microsoft.Extensions.DependencyInjection;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>join, invite, leave, kick, ban, unban and knock: each is an m.room.member event through the room grain.</summary>
public static class MembershipEndpoints
{
    public static IEndpointRouteBuilder MapMembershipApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var rooms = $"/_matrix/client/{version}/rooms/{{roomId}}";
            app.MapPost($"{rooms}/join", (HttpContext h, string roomId, AccessTokenAuthentication a, RoomReader r, IGrainFactory g) =>
                SelfAsync(h, roomId, "join", a, r, g)).AllowGuests();
            app.MapPost($"/_matrix/client/{version}/join/{{roomIdOrAlias}}", (HttpContext h, string roomIdOrAlias, AccessTokenAuthentication a, RoomReader r, IGrainFactory g) =>
                SelfAsync(h, roomIdOrAlias, "join", a, r, g)).AllowGuests();
            app.MapPost($"/_matrix/client/{version}/knock/{{roomIdOrAlias}}", (HttpContext h, string roomIdOrAlias, AccessTokenAuthentication a, RoomReader r, IGrainFactory g) =>
                SelfAsync(h, roomIdOrAlias, "knock", a, r, g));
            app.MapPost($"{rooms}/leave", (HttpContext h, string roomId, AccessTokenAuthentication a, RoomReader r, IGrainFactory g) =>
                SelfAsync(h, roomId, "leave", a, r, g)).AllowGuests();
            app.MapPost($"{rooms}/forget", async (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) =>
            {
                var user = await a.RequireUserAsync(h);
                await g.GetGrain<Homeserver.Grains.Interfaces.Users.IUserGrain>(user.UserId).ForgetRoomAsync(RoomPaths.RoomIdFrom(roomId), h.RequestAborted);
                return Results.Json(new JsonObject());
            });
            app.MapPost($"{rooms}/invite", (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) => OtherAsync(h, roomId, "invite", a, g));
            app.MapPost($"{rooms}/kick", (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) =>
                OtherAsync(h, roomId, "leave", a, g, targetMembershipIn: ["join", "invite", "knock"]));
            app.MapPost($"{rooms}/ban", (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) => OtherAsync(h, roomId, "ban", a, g));
            app.MapPost($"{rooms}/unban", (HttpContext h, string roomId, AccessTokenAuthentication a, IGrainFactory g) => OtherAsync(h, roomId, "leave", a, g));
        }
        return app;
    }

    private static async Task<IResult> SelfAsync(HttpContext http, string roomIdText, string membership, AccessTokenAuthentication auth,
        RoomReader rooms, IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        var services = http.RequestServices;
        if (membership == "join")
        {
            services.GetRequiredService<RateLimiter>().Acquire("join", user.UserId, services.GetRequiredService<ProcessSettings>().RateLimits.JoinsLocal);
        }
        var settings = services.GetRequiredService<ProcessSettings>();
        // join/{roomIdOrAlias}: servers to join through, as via (v1.12) or the deprecated server_name.
        var named = http.Request.Query["via"].Concat(http.Request.Query["server_name"]).OfType<string>().ToList();
        string roomId;
        if (membership is "join" or "knock" && RoomAlias.TryParse(roomIdText, out var alias) && alias.Server.ToString() != settings.ServerName)
        {
            var (aliased, servers) = await services.GetRequiredService<RemoteServerQueries>().ResolveAliasAsync(alias.Server.ToString(), alias.ToString(),
                http.RequestAborted);
            (roomId, named) = (aliased, [.. servers, .. named]);
        }
        else
        {
            roomId = await services.GetRequiredService<RoomAliases>().ResolveAsync(roomIdText);
        }
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var reason = body.OptionalString("reason");
        // The body is the event's content, as in Synapse: a client's own keys are kept; the server sets the rest.
        var content = membership is "join" or "knock" ? (JsonObject)body.DeepClone() : new JsonObject();
        content.Remove("third_party_signed");
        content["membership"] = membership;
        if (membership == "leave" && reason is not null) content["reason"] = reason;
        if (membership == "join" && await services.GetRequiredService<RestrictedJoins>().CheckAsync(roomId, user.UserId, http.RequestAborted) is
            (RestrictedJoinCheck.Authorised, { } authoriser))
        {
            content["join_authorised_via_users_server"] = authoriser;
        }
        if (membership is "join" or "knock") await rooms.AddProfileAsync(user.UserId, content);
        if (membership is "join" or "leave" or "knock" && !(await rooms.GetJoinedServersAsync(roomId, http.RequestAborted)).Contains(settings.ServerName))
        {
            // No user here is in the room, so this server cannot vouch for its state: a resident server makes the
            // membership; an invite from another server points at one.
            var remote = services.GetRequiredService<RemoteMemberships>();
            var own = await rooms.GetCurrentStateAsync(roomId, "m.room.member", user.UserId, http.RequestAborted);
            var ownMembership = own is [var row] ? StoredJson.Parse(row.Json) : null;
            if (ownMembership?["content"]?["membership"]?.GetValue<string>() is "invite" or "knock" &&
                UserId.TryParse(ownMembership["sender"]?.GetValue<string>(), out var inviter))
            {
                named.Insert(0, inviter.Server.ToString());
            }
            var candidates = remote.Candidates(roomId, named);
            if (membership == "join" && candidates.Count > 0)
            {
                services.GetRequiredService<RateLimiter>().Acquire("join-remote", user.UserId, settings.RateLimits.JoinsRemote);
                content.Remove("join_authorised_via_users_server");
                await remote.JoinAsync(roomId, user.UserId, content, candidates, http.RequestAborted);
                return Results.Json(new JsonObject { ["room_id"] = roomId });
            }
            if (membership == "knock" && candidates.Count > 0)
            {
                await remote.KnockAsync(roomId, user.UserId, content, candidates, http.RequestAborted);
                return Results.Json(new JsonObject { ["room_id"] = roomId });
            }
            if (membership == "leave" && ownMembership?["content"]?["membership"]?.GetValue<string>() is "invite" or "knock")
            {
                await remote.LeaveAsync(roomId, user.UserId, content, candidates, http.RequestAborted);
                return Results.Json(new JsonObject());
            }
        }
        await grains.GetGrain<IRoomGrain>(roomId).SendEventAsync(new SendEventCommand(user.UserId, "m.room.member", user.UserId, content, null), http.RequestAborted);
        return Results.Json(membership == "leave" ? new JsonObject() : new JsonObject { ["room_id"] = roomId });
    }

    private static async Task<IResult> OtherAsync(HttpContext http, string roomIdText, string membership, AccessTokenAuthentication auth,
        IGrainFactory grains, string[]? targetMembershipIn = null)
    {
        var user = await auth.RequireUserAsync(http);
        var roomId = RoomPaths.RoomIdFrom(roomIdText);
        if (membership == "invite")
        {
            var limits = http.RequestServices.GetRequiredService<ProcessSettings>().RateLimits;
            var limiter = http.RequestServices.GetRequiredService<RateLimiter>();
            limiter.Acquire("invite-room", roomId, limits.InvitesPerRoom);
            limiter.Acquire("invite-user", user.UserId, limits.InvitesPerUser);
        }
        var body = await JsonBody.ReadObjectAsync(http.Request);
        if (membership == "invite" && body.ContainsKey("medium") && body.ContainsKey("address"))
        {
            // The third-party form of the invite (third_party_membership.yaml), as Synapse tells the two apart.
            await http.RequestServices.GetRequiredService<ThirdPartyInvites>().InviteAsync(user.UserId, roomId, ThirdPartyInvites.Request.Parse(body),
                http.RequestAborted);
            return Results.Json(new JsonObject());
        }
        var target = RoomPaths.UserIdFrom(body.OptionalString("user_id"));
        var content = new JsonObject { ["membership"] = membership };
        if (body.OptionalString("reason") is { } reason) content["reason"] = reason;
        var settings = http.RequestServices.GetRequiredService<ProcessSettings>();
        if (membership == "invite" && UserId.TryParse(target, out var invitee) && invitee.Server.ToString() != settings.ServerName)
        {
            // The invitee's server signs the invite before the room takes it.
            await http.RequestServices.GetRequiredService<RemoteMemberships>().InviteAsync(roomId,
                new SendEventCommand(user.UserId, "m.room.member", target, content, null), http.RequestAborted);
            return Results.Json(new JsonObject());
        }
        await grains.GetGrain<IRoomGrain>(roomId).SendEventAsync(
            new SendEventCommand(user.UserId, "m.room.member", target, content, null, TargetMembershipIn: targetMembershipIn), http.RequestAborted);
        return Results.Json(new JsonObject());
    }
}
