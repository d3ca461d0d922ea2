using Homeserver.Federation.Keys;
using System.Reflection;
using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// What another server asks before it trusts this one (server-server-api "Retrieving server keys",
/// "Server discovery", "GET /_matrix/federation/v1/version"). None of them needs a signed request.
/// </summary>
public static class ServerKeyEndpoints
{
    private static readonly string ServerVersion =
        typeof(ServerKeyEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static IEndpointRouteBuilder MapServerKeyApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_matrix/key/v2/server", ServerKeysAsync);
        // The key ID path parameter left the spec in v1.1; Synapse still answers it with all keys, as do we.
        app.MapGet("/_matrix/key/v2/server/{keyId}", ServerKeysAsync);
        app.MapGet("/_matrix/federation/v1/version", () => Results.Json(new { server = new { name = "Homeserver on grains", version = ServerVersion } }))
            .AllowUnsignedFederationRequests();
        app.MapGet("/.well-known/matrix/server", ServerWellKnown);
        return app;
    }

    private static async Task<IResult> ServerKeysAsync(HttpContext http, ServerSigningKeys keys) =>
        Results.Json(await keys.PublishedAnswerAsync(http.RequestAborted));

    /// <summary>
    /// Synapse's answer with <c>serve_server_wellknown</c>: whoever reaches https://server_name/ reaches
    /// this server, so federation goes to port 443 instead of 8448 (or to the server name's own port).
    /// </summary>
    private static IResult ServerWellKnown(ProcessSettings settings)
    {
        if (!settings.ServeServerWellKnown) return Results.Json(new { errcode = "M_NOT_FOUND", error = "This server does not serve /.well-known/matrix/server." }, statusCode: 404);
        var name = ServerName.Parse(settings.ServerName);
        return Results.Json(new JsonObject { ["m.server"] = $"{name.Host}:{name.Port ?? 443}" });
    }
}
