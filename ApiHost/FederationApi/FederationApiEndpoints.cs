using Homeserver.Federation.Keys;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>The server-server API that API hosts serve (so far: what others ask before trusting this server).</summary>
public static class FederationApiEndpoints
{
    /// <summary>The key holder is shared with the federation client (AddFederationClient), whichever registers it first.</summary>
    public static IServiceCollection AddFederationApi(this IServiceCollection services)
    {
        services.TryAddSingleton<ServerSigningKeys>();
        services.AddSingleton<AuthChains>();
        services.AddSingleton<ContactedDestinations>();
        services.AddSingleton<InboundEdus>();
        services.AddSingleton<MissingEvents>();
        services.AddSingleton<MissingState>();
        return services;
    }

    public static IEndpointRouteBuilder MapFederationApi(this IEndpointRouteBuilder app) => app.MapServerKeyApi().MapKeyQueryApi().MapFederationQueryApi()
        .MapRoomFederationApi().MapRoomHistoryFederationApi().MapFederationUserKeyApi().MapFederationPublicRoomsApi().MapThirdPartyInviteFederationApi().MapInviteFederationApi();
}
