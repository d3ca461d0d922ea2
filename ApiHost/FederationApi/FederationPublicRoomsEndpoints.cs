using Homeserver.ApiHost.ClientApi;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Directory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// This server's room directory for other servers (<c>/publicRooms</c>, GET and POST), the same list
/// local clients get. Closed unless <c>allow_public_rooms_over_federation</c> is on, as in Synapse.
/// </summary>
public static class FederationPublicRoomsEndpoints
{
    public static IEndpointRouteBuilder MapFederationPublicRoomsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_matrix/federation/v1/publicRooms", (HttpContext http, FederationOrigin origin, DirectoryStore directory, ProcessSettings settings) =>
            ListAsync(directory, settings, origin, () => PublicRoomsQuery.FromQueryString(http.Request.Query)));
        app.MapPost("/_matrix/federation/v1/publicRooms", async (HttpContext http, FederationOrigin origin, DirectoryStore directory, ProcessSettings settings) =>
        {
            var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
            return await ListAsync(directory, settings, origin, () => PublicRoomsQuery.FromBody(body));
        });
        return app;
    }

    private static async Task<IResult> ListAsync(DirectoryStore directory, ProcessSettings settings, FederationOrigin origin, Func<PublicRoomsQuery> parse)
    {
        if (!settings.AllowPublicRoomsOverFederation) throw MatrixException.Forbidden($"Federation denied with {origin.ServerName}.");
        var query = parse();
        // Synapse's federation API reads a limit of 0 as no limit.
        return Results.Json(await PublicRoomList.LocalAsync(directory, query.Limit == 0 ? query with { Limit = null } : query));
    }
}
