using Homeserver.ApiHost.Errors;
using Homeserver.Cluster.Hosting;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Http;

/// <summary>
/// The request-target and header limits, answered with Matrix error bodies. Kestrel itself would
/// refuse at these sizes with an empty 414 or 431 that clients cannot read; it is configured with
/// twice the room (<see cref="ProcessHost"/>), so its bare answer is left only for requests far past the limit.
/// </summary>
public sealed class RequestSizeMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext http)
    {
        var request = http.Request;
        if ((request.Path.Value?.Length ?? 0) + request.QueryString.Value?.Length > ProcessHost.MaxRequestTargetBytes)
        {
            return MatrixError.WriteAsync(http, StatusCodes.Status414RequestUriTooLong, "M_TOO_LARGE",
                $"The request URI is longer than {ProcessHost.MaxRequestTargetBytes} bytes.");
        }
        long headerBytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            headerBytes += name.Length;
            foreach (var value in values) headerBytes += value?.Length ?? 0;
        }
        if (headerBytes > ProcessHost.MaxRequestHeaderBytes)
        {
            return MatrixError.WriteAsync(http, StatusCodes.Status431RequestHeaderFieldsTooLarge, "M_TOO_LARGE",
                $"The request headers are larger than {ProcessHost.MaxRequestHeaderBytes} bytes.");
        }
        return next(http);
    }
}
