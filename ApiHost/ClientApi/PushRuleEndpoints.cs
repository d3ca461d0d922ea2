using Homeserver.ApiHost.Auth;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>Read-only push rules: the spec's defaults. Custom rules, enabling and actions are the sync issue's work.</summary>
public static class PushRuleEndpoints
{
    public static IEndpointRouteBuilder MapPushRuleApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            app.MapGet($"/_matrix/client/{version}/pushrules/", async (HttpContext http, AccessTokenAuthentication auth) =>
                Results.Json(DefaultPushRules.For((await auth.RequireUserAsync(http)).UserId)));
            app.MapGet($"/_matrix/client/{version}/pushrules/global/", async (HttpContext http, AccessTokenAuthentication auth) =>
                Results.Json(DefaultPushRules.For((await auth.RequireUserAsync(http)).UserId)["global"]));
        }
        return app;
    }
}
