using Homeserver.ApiHost.Errors;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Http;

/// <summary>
/// Answers a request for a path its listener does not serve as an unknown endpoint (404 M_UNRECOGNIZED,
/// Synapse's answer), keyed on the port the connection came in on: one route table, filtered per listener.
/// </summary>
public sealed class ListenerResourcesMiddleware(RequestDelegate next, ListenerResources resources)
{
    public Task InvokeAsync(HttpContext http) => resources.Serves(http.Connection.LocalPort, http.Request.Path)
        ? next(http)
        : MatrixError.WriteAsync(http, StatusCodes.Status404NotFound, "M_UNRECOGNIZED", $"Unrecognized request: {http.Request.Method} {http.Request.Path}");
}
