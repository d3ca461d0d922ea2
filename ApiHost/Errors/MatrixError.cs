using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Errors;

/// <summary>The Matrix error body: <c>{"errcode": ..., "error": ...}</c> with its HTTP status.</summary>
public static class MatrixError
{
    public static IResult Result(int status, string errCode, string error, long? retryAfterMs = null)
    {
        var body = new Dictionary<string, object> { ["errcode"] = errCode, ["error"] = error };
        if (retryAfterMs is { } ms) body["retry_after_ms"] = ms;
        return Results.Json(body, statusCode: status);
    }

    public static Task WriteAsync(HttpContext http, int status, string errCode, string error) =>
        Result(status, errCode, error).ExecuteAsync(http);
}
