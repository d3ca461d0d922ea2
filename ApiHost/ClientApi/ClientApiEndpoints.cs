using Homeserver.ApiHost.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.ClientApi;

public static class ClientApiEndpoints
{
    /// <summary>The client-server API, with Matrix errors for everything it does not serve.</summary>
    public static WebApplication MapClientApi(this WebApplication app)
    {
        app.MapVersionsApi();
        app.MapFallback("/_matrix/{**path}", (HttpContext http) => MatrixError.Result(
            StatusCodes.Status404NotFound, "M_UNRECOGNIZED", $"Unrecognized request: {http.Request.Method} {http.Request.Path}"));
        return app;
    }
}
