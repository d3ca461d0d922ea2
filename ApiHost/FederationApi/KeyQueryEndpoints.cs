using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Federation.Keys;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// This server as a notary (server-server-api "Querying Keys Through Another Server"): unsigned requests,
/// as the spec and Synapse have them, so that a server which cannot yet verify anyone can still ask.
/// </summary>
public static class KeyQueryEndpoints
{
    public static IEndpointRouteBuilder MapKeyQueryApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/_matrix/key/v2/query", QueryAsync);
        app.MapGet("/_matrix/key/v2/query/{serverName}", (HttpContext http, string serverName, KeyNotary notary) =>
            AnswerAsync(http, notary, [new NotaryQuery(CheckedServerName(serverName), new Dictionary<string, long?>())]));
        // The key ID left the path in spec v1.6; Synapse still answers it, with the query's minimum_valid_until_ts.
        app.MapGet("/_matrix/key/v2/query/{serverName}/{keyId}", (HttpContext http, string serverName, string keyId, KeyNotary notary) =>
            AnswerAsync(http, notary, [new NotaryQuery(CheckedServerName(serverName),
                new Dictionary<string, long?> { [keyId] = MinimumValidUntil(http.Request.Query["minimum_valid_until_ts"]) })]));
        return app;
    }

    private static async Task<IResult> QueryAsync(HttpContext http, KeyNotary notary)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var serverKeys = body.OptionalObject("server_keys") ?? throw new MatrixException(400, "M_MISSING_PARAM", "'server_keys' is missing.");
        if (serverKeys.Count > KeyNotary.MaxServers)
        {
            throw new MatrixException(400, "M_TOO_LARGE", $"A query may ask about at most {KeyNotary.MaxServers} servers.");
        }
        var queries = new List<NotaryQuery>();
        var keyCount = 0;
        foreach (var (serverName, criteria) in serverKeys)
        {
            if (criteria is not JsonObject keyIds) throw new MatrixException(400, "M_BAD_JSON", $"'server_keys.{serverName}' must be an object.");
            var wanted = new Dictionary<string, long?>(StringComparer.Ordinal);
            foreach (var (keyId, criterion) in keyIds)
            {
                if (criterion is not JsonObject c) throw new MatrixException(400, "M_BAD_JSON", $"'server_keys.{serverName}.{keyId}' must be an object.");
                wanted[keyId] = c["minimum_valid_until_ts"] switch
                {
                    null => null,
                    JsonValue v when v.TryGetValue<long>(out var ts) => ts,
                    _ => throw new MatrixException(400, "M_BAD_JSON", $"'server_keys.{serverName}.{keyId}.minimum_valid_until_ts' must be an integer."),
                };
            }
            keyCount += wanted.Count;
            queries.Add(new NotaryQuery(CheckedServerName(serverName), wanted));
        }
        if (keyCount > KeyNotary.MaxKeyIds) throw new MatrixException(400, "M_TOO_LARGE", $"A query may ask for at most {KeyNotary.MaxKeyIds} keys.");
        return await AnswerAsync(http, notary, queries);
    }

    private static async Task<IResult> AnswerAsync(HttpContext http, KeyNotary notary, IReadOnlyList<NotaryQuery> queries) =>
        Results.Json(new JsonObject { ["server_keys"] = await notary.QueryAsync(queries, http.RequestAborted) });

    private static string CheckedServerName(string serverName) => ServerName.TryParse(serverName, out _)
        ? serverName
        : throw new MatrixException(400, "M_INVALID_PARAM", $"'{serverName}' is not a server name.");

    private static long? MinimumValidUntil(string? text) => text switch
    {
        null or "" => null,
        _ when long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var ts) => ts,
        _ => throw new MatrixException(400, "M_INVALID_PARAM", "'minimum_valid_until_ts' must be an integer."),
    };
}
