using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Directory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>/user_directory/search.</summary>
public static class UserDirectoryEndpoints
{
    private const int MaxLimit = 50;

    public static IEndpointRouteBuilder MapUserDirectoryApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapPost($"/_matrix/client/{version}/user_directory/search", SearchAsync);
        }
        return app;
    }

    private static async Task<IResult> SearchAsync(HttpContext http, AccessTokenAuthentication auth, UserDirectoryStore directory, ProcessSettings settings)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var term = body.RequiredString("search_term").Trim();
        var limit = body["limit"] switch
        {
            null => 10,
            JsonValue v when v.TryGetValue<int>(out var n) && n >= 0 => Math.Min(n, MaxLimit),
            _ => throw new MatrixException(400, "M_INVALID_PARAM", "'limit' must be a non-negative integer."),
        };
        // One more than asked tells whether the list was cut.
        var options = settings.UserDirectory;
        var found = term.Length == 0 || !options.Enabled
            ? []
            : await directory.SearchAsync(user.UserId, term, limit + 1, options.SearchAllUsers, options.PreferLocalUsers, http.RequestAborted);
        var results = new JsonArray(found.Take(limit).Select(e =>
        {
            var entry = new JsonObject { ["user_id"] = e.UserId };
            if (e.DisplayName is not null) entry["display_name"] = e.DisplayName;
            if (e.AvatarUrl is not null) entry["avatar_url"] = e.AvatarUrl;
            return (JsonNode)entry;
        }).ToArray());
        return Results.Json(new JsonObject { ["results"] = results, ["limited"] = found.Count > limit });
    }
}
