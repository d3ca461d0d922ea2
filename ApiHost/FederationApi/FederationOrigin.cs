using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The server a federation request came from, as its verified X-Matrix signature proves. An endpoint
/// taking it as a parameter gets it from <see cref="XMatrixAuthenticationMiddleware"/>; one that is open to
/// unsigned requests cannot take it.
/// </summary>
public sealed record FederationOrigin(string ServerName)
{
    public static ValueTask<FederationOrigin?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult<FederationOrigin?>(http.Features.Get<FederationOrigin>()
            ?? throw new InvalidOperationException($"{http.Request.Path} takes the request's origin but is not authenticated with X-Matrix."));
}

/// <summary>Endpoint metadata: this federation endpoint takes requests without an X-Matrix signature.</summary>
public sealed class UnsignedFederationRequestsAllowed
{
    public static readonly UnsignedFederationRequestsAllowed Instance = new();

    private UnsignedFederationRequestsAllowed()
    {
    }
}

public static class UnsignedFederationRequestEndpoints
{
    /// <summary>
    /// Opens a <c>/_matrix/federation/</c> endpoint to unsigned requests: only those the spec says need no
    /// signature (the version, OpenID userinfo, an identity server's onbind), so every endpoint added later is signed.
    /// </summary>
    public static TBuilder AllowUnsignedFederationRequests<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(UnsignedFederationRequestsAllowed.Instance);
}
