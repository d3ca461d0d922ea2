using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Http;

/// <summary>
/// CORS for web clients on their own origin (Element Web, Hydrogen): the spec's recommended headers on
/// every response, errors included (set as the response starts, after any error handling cleared it),
/// and an <c>OPTIONS</c> pre-flight answered at once without running the endpoint, as the spec requires.
/// The headers Synapse adds beyond the spec's (HEAD, Date) are kept, since clients are tested against it.
/// </summary>
public sealed class CorsMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext http)
    {
        http.Response.OnStarting(static state =>
        {
            var headers = ((HttpResponse)state).Headers;
            headers.AccessControlAllowOrigin = "*";
            headers.AccessControlAllowMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
            headers.AccessControlAllowHeaders = "X-Requested-With, Content-Type, Authorization, Date";
            return Task.CompletedTask;
        }, http.Response);
        if (!HttpMethods.IsOptions(http.Request.Method)) return next(http);
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync("{}");
    }
}
