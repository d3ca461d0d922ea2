using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.FederationApi;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Accounts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi.Accounts;

/// <summary>
/// OpenID (openid.yaml and the server-server "OpenID" section): a client asks for a token, hands it
/// to a third party, and the third party asks this server whose it is. The lookup needs no
/// signature, so it is served wherever the client API is.
/// </summary>
public static class OpenIdEndpoints
{
    /// <summary>Synapse's lifetime for OpenID tokens: one hour.</summary>
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    public static IEndpointRouteBuilder MapOpenIdApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapPost($"/_matrix/client/{version}/user/{{userId}}/openid/request_token", RequestTokenAsync);
        }
        app.MapGet("/_matrix/federation/v1/openid/userinfo", UserInfoAsync).AllowUnsignedFederationRequests();
        return app;
    }

    private static async Task<IResult> RequestTokenAsync(HttpContext http, string userId, AccessTokenAuthentication auth, OpenIdTokenStore tokens,
        ProcessSettings settings, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        if (RoomPaths.UserIdFrom(userId) != user.UserId) throw MatrixException.Forbidden("You can only request OpenID tokens for yourself.");
        await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var token = await tokens.CreateAsync(user.UserId, now, now + (long)Lifetime.TotalMilliseconds);
        return Results.Json(new
        {
            access_token = token,
            token_type = "Bearer",
            matrix_server_name = settings.ServerName,
            expires_in = (long)Lifetime.TotalSeconds,
        });
    }

    private static async Task<IResult> UserInfoAsync(HttpContext http, OpenIdTokenStore tokens, TimeProvider clock)
    {
        var token = http.Request.Query["access_token"].ToString();
        if (token.Length == 0) throw new MatrixException(401, "M_UNKNOWN_TOKEN", "An OpenID access_token is required.");
        var userId = await tokens.FindUserAsync(token, clock.GetUtcNow().ToUnixTimeMilliseconds())
            ?? throw new MatrixException(401, "M_UNKNOWN_TOKEN", "Unknown or expired OpenID token.");
        return Results.Json(new { sub = userId });
    }
}
