using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.ThreePids;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// <c>/_matrix/federation/v1/3pid/onbind</c>: an identity server tells this server that an address was
/// bound to one of its users, with the third-party invites it held for it. Not a signed request (the
/// identity server is no homeserver); each invite proves itself with the identity server's signature,
/// which the room's third-party invite names the keys of. The spec says PUT; Sydent and Synapse use POST.
/// </summary>
public static class ThirdPartyInviteEndpoints
{
    public static IEndpointRouteBuilder MapThirdPartyInviteFederationApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/_matrix/federation/v1/3pid/onbind", ["PUT", "POST"], OnBindAsync).AllowUnsignedFederationRequests();
        return app;
    }

    private static async Task<IResult> OnBindAsync(HttpContext http, ThirdPartyInviteExchange exchange)
    {
        var invites = ThirdPartyInviteExchange.Parse(await JsonBody.ReadObjectAsync(http.Request));
        await exchange.ExchangeAllAsync(invites, http.RequestAborted);
        return Results.Json(new { });
    }
}
