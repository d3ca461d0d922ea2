using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

public static class ProfileEndpoints
{
    private static readonly HashSet<string> Fields = ["displayname", "avatar_url"];

    public static IEndpointRouteBuilder MapProfileApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var profile = $"/_matrix/client/{version}/profile/{{userId}}";
            app.MapGet(profile, GetProfileAsync);
            app.MapGet($"{profile}/{{field}}", GetFieldAsync);
            app.MapPut($"{profile}/{{field}}", SetFieldAsync);
            // Guests may set their display name and no other field (spec "Guest Access"); a literal segment
            // outranks {field}, so this route alone decides the display name.
            app.MapPut($"{profile}/displayname", (HttpContext h, string userId, AccessTokenAuthentication a, IGrainFactory g) =>
                SetFieldAsync(h, userId, "displayname", a, g)).AllowGuests();
        }
        return app;
    }

    private static async Task<IResult> GetProfileAsync(string userId, AccountStore accounts, RoomReader rooms)
    {
        var user = await RequireKnownUserAsync(userId, accounts);
        var (displayName, avatarUrl) = await rooms.GetProfileAsync(user);
        var body = new JsonObject();
        if (displayName is not null) body["displayname"] = displayName;
        if (avatarUrl is not null) body["avatar_url"] = avatarUrl;
        return Results.Json(body);
    }

    private static async Task<IResult> GetFieldAsync(string userId, string field, AccountStore accounts, RoomReader rooms)
    {
        if (!Fields.Contains(field)) throw MatrixException.NotFound($"Unknown profile field {field}.");
        var user = await RequireKnownUserAsync(userId, accounts);
        var (displayName, avatarUrl) = await rooms.GetProfileAsync(user);
        var value = field == "displayname" ? displayName : avatarUrl;
        if (value is null) throw MatrixException.NotFound($"{user} has no {field}.");
        return Results.Json(new JsonObject { [field] = value });
    }

    private static async Task<IResult> SetFieldAsync(HttpContext http, string userId, string field, AccessTokenAuthentication auth,
        IGrainFactory grains)
    {
        var user = await auth.RequireUserAsync(http);
        if (!Fields.Contains(field)) throw new MatrixException(400, "M_INVALID_PARAM", $"Unknown profile field {field}.");
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only change your own profile.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var value = body.OptionalString(field);
        if (value is { Length: > 256 }) throw new MatrixException(400, "M_INVALID_PARAM", $"{field} is too long.");
        await grains.GetGrain<IUserGrain>(user.UserId).SetProfileFieldAsync(field, value, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<string> RequireKnownUserAsync(string userId, AccountStore accounts)
    {
        var user = RoomPaths.UserIdFrom(userId);
        return await accounts.UserExistsAsync(user) ? user : throw MatrixException.NotFound("Profile not found.");
    }
}
