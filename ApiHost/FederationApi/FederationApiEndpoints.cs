using Homeserver.Federation.Keys;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>The server-server API that API hosts serve (so far: what others ask before trusting this server).</summary>
public static class FederationApiEndpoints
{
    public static IServiceCollection AddFederationApi(this IServiceCollection services) => services.AddSingleton<ServerSigningKeys>();

    public static IEndpointRouteBuilder MapFederationApi(this IEndpointRouteBuilder app) => app.MapServerKeyApi().MapThirdPartyInviteFederationApi();
}
