using Homeserver.ApiHost.Errors;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Keys;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// Authenticates every <c>/_matrix/federation/</c> request with its X-Matrix signature (server-server-api
/// "Request Authentication") before its endpoint runs, unless the endpoint is marked
/// <see cref="UnsignedFederationRequestEndpoints.AllowUnsignedFederationRequests"/>: the origin's key (valid
/// now) must verify the signature over method, the request target exactly as sent, origin, our server
/// name as destination and the body. Failures are 401 M_UNAUTHORIZED; an origin that
/// <c>federation_domain_whitelist</c> leaves out is 403 M_FORBIDDEN, as in Synapse. The body is read
/// (within <see cref="MaxBodyBytes"/>) and parsed strictly once here, and left for the endpoint to read again.
/// </summary>
public sealed class XMatrixAuthenticationMiddleware(RequestDelegate next, KeyRing keys, ProcessSettings settings, FederationClientOptions limits,
    ContactedDestinations contacted, TimeProvider clock)
{
    /// <summary>The largest federation body: a transaction of 50 PDUs of 64 KiB and 100 EDUs, with room to spare.</summary>
    public const int MaxBodyBytes = 8 * 1024 * 1024;

    public async Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.Path.StartsWithSegments("/_matrix/federation")
            || http.GetEndpoint() is not { } endpoint
            || endpoint.Metadata.GetMetadata<UnsignedFederationRequestsAllowed>() is not null)
        {
            await next(http);
            return;
        }

        var header = http.Request.Headers.Authorization.FirstOrDefault(h => h?.StartsWith(XMatrixAuthorization.Scheme + " ", StringComparison.OrdinalIgnoreCase) == true);
        if (header is null)
        {
            await MatrixError.WriteAsync(http, 401, "M_UNAUTHORIZED", "Missing X-Matrix Authorization header.");
            return;
        }
        if (!XMatrixAuthorization.TryParse(header, out var authorization, out var problem))
        {
            await MatrixError.WriteAsync(http, 401, "M_UNAUTHORIZED", $"Bad X-Matrix Authorization header: {problem}.");
            return;
        }
        if (authorization.Destination is { } destination && destination != settings.ServerName)
        {
            await MatrixError.WriteAsync(http, 401, "M_UNAUTHORIZED", $"The request is for {destination}, not this server.");
            return;
        }
        if (!limits.IsDestinationAllowed(authorization.Origin))
        {
            await MatrixError.WriteAsync(http, 403, "M_FORBIDDEN", $"Federation denied with {authorization.Origin}.");
            return;
        }

        var content = await ReadContentAsync(http);
        var key = await keys.GetVerifyKeyAsync(authorization.Origin, authorization.KeyId, clock.GetUtcNow().ToUnixTimeMilliseconds(), http.RequestAborted);
        if (key is null)
        {
            await MatrixError.WriteAsync(http, 401, "M_UNAUTHORIZED", $"No key {authorization.KeyId} of {authorization.Origin} valid now could be found.");
            return;
        }
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path + http.Request.QueryString;
        if (!authorization.Verify(http.Request.Method, target, settings.ServerName, content, key.PublicKey))
        {
            await MatrixError.WriteAsync(http, 401, "M_UNAUTHORIZED", $"Invalid signature for {authorization.Origin} with key {authorization.KeyId}.");
            return;
        }
        http.Features.Set(new FederationOrigin(authorization.Origin));
        contacted.Contacted(authorization.Origin);
        await next(http);
    }

    /// <summary>The body as JSON (null when there is none), signed over as parsed; the endpoint reads the same bytes again.</summary>
    private static async Task<System.Text.Json.Nodes.JsonNode?> ReadContentAsync(HttpContext http)
    {
        var request = http.Request;
        if (request.ContentLength > MaxBodyBytes) throw TooLarge();
        var buffer = new MemoryStream();
        http.Response.RegisterForDispose(buffer);
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes) throw TooLarge();
            buffer.Write(chunk, 0, read);
        }
        buffer.Position = 0;
        request.Body = buffer;
        return buffer.Length == 0 ? null : JsonBody.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), "The request body");
    }

    private static Grains.Interfaces.Errors.MatrixException TooLarge() => new(413, "M_TOO_LARGE", $"The request body is larger than {MaxBodyBytes} bytes.");
}
