using System.Text.Json;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Hosting;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Cluster.Hosting;
using Homeserver.Grains.Interfaces.Errors;
using Microsoft.AspNetCore.Http;
using Orleans;
using Orleans.Runtime;

namespace Homeserver.ApiHost.Errors;

/// <summary>
/// Maps failures to Matrix errors: a grain's <see cref="MatrixException"/> keeps its errcode, bad
/// request bodies are M_NOT_JSON/M_BAD_JSON, an unreachable room writer is a retryable 503, and
/// only a genuine server fault is a 500.
/// </summary>
public sealed class MatrixErrorMiddleware(RequestDelegate next, ApiHostLog log, ClusterConnection? cluster = null)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var clientGone = http.RequestAborted;
        // A write whose grain call went through a gateway that just died would wait out the whole response
        // timeout: its answer can no longer arrive. Such writes end at once with a retryable 503 instead;
        // the write itself completes or not, and a retry with the same transaction ID finds out which.
        using var gatewayLost = cluster is not null && !HttpMethods.IsGet(http.Request.Method)
            ? CancellationTokenSource.CreateLinkedTokenSource(clientGone, cluster.GatewaysLost)
            : null;
        if (gatewayLost is not null) http.RequestAborted = gatewayLost.Token;
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested)
        {
            // The client went away: nobody reads an answer, and nothing failed.
        }
        catch (OperationCanceledException) when (gatewayLost?.IsCancellationRequested == true && !http.Response.HasStarted)
        {
            http.Response.Clear();
            await MatrixError.WriteAsync(http, 503, "M_UNKNOWN", "The server lost its connection to part of the cluster; retry shortly.");
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            if (e is AuthRequiredException uia)
            {
                http.Response.Clear();
                await Results.Json(uia.Body, statusCode: 401).ExecuteAsync(http);
                return;
            }
            if (e is UnknownTokenException)
            {
                http.Response.Clear();
                await Results.Json(new { errcode = "M_UNKNOWN_TOKEN", error = e.Message, soft_logout = false }, statusCode: 401).ExecuteAsync(http);
                return;
            }
            if (e is RateLimitedException limited)
            {
                http.Response.Clear();
                await MatrixError.Result(429, "M_LIMIT_EXCEEDED", "Too many requests.", limited.RetryAfterMs).ExecuteAsync(http);
                return;
            }
            var (status, errCode, message) = e switch
            {
                MatrixException m => (m.StatusCode, m.ErrCode, m.Error),
                BadHttpRequestException b when b.InnerException is JsonException => (400, "M_NOT_JSON", "The request body is not valid JSON."),
                BadHttpRequestException { StatusCode: 413 } b => (413, "M_TOO_LARGE", b.Message),
                BadHttpRequestException b => (b.StatusCode, "M_BAD_JSON", b.Message),
                // A silo that died or is being replaced, or a role with no live silo: the cluster recovers in seconds.
                SiloUnavailableException or OrleansException => (503, "M_UNKNOWN", "The server that owns this resource is unavailable; retry shortly."),
                TimeoutException => (504, "M_UNKNOWN", "The request timed out inside the server; retry shortly."),
                _ => (500, "M_UNKNOWN", "Internal server error."),
            };
            if (status >= 500) log.RequestFailed(e, http.Request.Method, http.Request.Path);
            http.Response.Clear();
            await MatrixError.WriteAsync(http, status, errCode, message);
        }
    }
}
