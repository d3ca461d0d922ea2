using System.Text.Json;
using Homeserver.ApiHost.Hosting;
using Homeserver.Grains.Interfaces.Errors;
using Microsoft.AspNetCore.Http;
using Orleans.Runtime;

namespace Homeserver.ApiHost.Errors;

/// <summary>
/// Maps failures to Matrix errors: a grain's <see cref="MatrixException"/> keeps its errcode, bad
/// request bodies are M_NOT_JSON/M_BAD_JSON, an unreachable room writer is a retryable 503, and
/// only a genuine server fault is a 500.
/// </summary>
public sealed class MatrixErrorMiddleware(RequestDelegate next, ApiHostLog log)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var (status, errCode, message) = e switch
            {
                MatrixException m => (m.StatusCode, m.ErrCode, m.Error),
                JsonException => (400, "M_NOT_JSON", "The request body is not valid JSON."),
                BadHttpRequestException b when b.InnerException is JsonException => (400, "M_NOT_JSON", "The request body is not valid JSON."),
                BadHttpRequestException b => (b.StatusCode, "M_BAD_JSON", b.Message),
                SiloUnavailableException or MisdirectedGrainCallException => (503, "M_UNKNOWN", "The server that owns this resource is unavailable; retry shortly."),
                TimeoutException => (504, "M_UNKNOWN", "The request timed out inside the server; retry shortly."),
                _ => (500, "M_UNKNOWN", "Internal server error."),
            };
            if (status >= 500) log.RequestFailed(e, http.Request.Method, http.Request.Path);
            http.Response.Clear();
            await MatrixError.WriteAsync(http, status, errCode, message);
        }
    }
}
