using System.Text.Json;
using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Http;

/// <summary>Reads request bodies into JSON objects with the spec's errors: M_NOT_JSON, M_BAD_JSON, M_MISSING_PARAM, M_INVALID_PARAM.</summary>
public static class JsonBody
{
    public const int MaxBodyBytes = 1024 * 1024;

    /// <param name="maxBytes">The largest body taken; <see cref="MaxBodyBytes"/> unless the endpoint takes more (a federation transaction).</param>
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, bool allowEmpty = false, int maxBytes = MaxBodyBytes)
    {
        if (request.ContentLength > maxBytes) throw new MatrixException(413, "M_TOO_LARGE", "The request body is too large.");
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        if (buffer.Length > maxBytes) throw new MatrixException(413, "M_TOO_LARGE", "The request body is too large.");
        if (buffer.Length == 0)
        {
            return allowEmpty ? [] : throw new MatrixException(400, "M_NOT_JSON", "The request body is empty; a JSON object is expected.");
        }
        var node = Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), "The request body");
        return node as JsonObject ?? throw new MatrixException(400, "M_BAD_JSON", "The request body must be a JSON object.");
    }

    /// <summary>Parses JSON from a client (a body, a query parameter) completely, or answers M_NOT_JSON / M_BAD_JSON naming <paramref name="what"/>.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8, string what)
    {
        try
        {
            return StrictJson.Parse(utf8);
        }
        catch (StrictJsonException e)
        {
            throw new MatrixException(400, e.NotJson ? "M_NOT_JSON" : "M_BAD_JSON", $"{what} is not acceptable JSON: {e.Message}");
        }
    }

    /// <summary>A query parameter that holds JSON (a filter, say), parsed as strictly as a body.</summary>
    public static JsonNode? ParseParameter(string value, string name) => Parse(System.Text.Encoding.UTF8.GetBytes(value), $"'{name}'");

    public static string? OptionalString(this JsonObject body, string key) => body[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new MatrixException(400, "M_BAD_JSON", $"'{key}' must be a string."),
    };

    public static string RequiredString(this JsonObject body, string key) =>
        body.OptionalString(key) ?? throw new MatrixException(400, "M_MISSING_PARAM", $"'{key}' is missing.");

    public static bool OptionalBool(this JsonObject body, string key, bool fallback) => body[key] switch
    {
        null => fallback,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new MatrixException(400, "M_BAD_JSON", $"'{key}' must be true or false."),
    };

    public static JsonObject? OptionalObject(this JsonObject body, string key) => body[key] switch
    {
        null => null,
        JsonObject o => o,
        _ => throw new MatrixException(400, "M_BAD_JSON", $"'{key}' must be an object."),
    };
}
