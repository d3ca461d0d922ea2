using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ClientApi;

public static class VersionsEndpoints
{
    private static readonly string[] SpecVersions =
        ["r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
         "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"];

    public static IEndpointRouteBuilder MapVersionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_matrix/client/versions", () => Results.Json(new
        {
            versions = SpecVersions,
            unstable_features = new Dictionary<string, bool>(),
        }));
        return app;
    }
}
