using Homeserver.Grains.Interfaces.Errors;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Auth;

public sealed record AuthenticatedUser(string UserId, string DeviceId, string AccessToken, bool IsGuest);

/// <summary>
/// Finds the user behind a request's access token (header, or the deprecated query parameter). A guest
/// gets past it only on endpoints mapped with <see cref="GuestAccessEndpoints.AllowGuests"/>.
/// </summary>
public sealed class AccessTokenAuthentication(AccessTokenCache tokens)
{
    public async Task<AuthenticatedUser> RequireUserAsync(HttpContext http)
    {
        var token = TokenOf(http.Request) ?? throw new MatrixException(401, "M_MISSING_TOKEN", "Missing access token.");
        var owner = await tokens.FindOwnerAsync(token, http.RequestAborted)
            ?? throw new UnknownTokenException();
        if (owner.IsGuest && http.GetEndpoint()?.Metadata.GetMetadata<GuestAccessAllowed>() is null)
        {
            throw new MatrixException(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest accounts may not use this endpoint.");
        }
        return new AuthenticatedUser(owner.UserId, owner.DeviceId, token, owner.IsGuest);
    }

    /// <summary>After this host deleted a user's tokens: its next request with one of them is refused, not served from the cache.</summary>
    public void ForgetTokensOf(string userId) => tokens.Forget(userId);

    public static string? TokenOf(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header[7..].Trim();
        return request.Query.TryGetValue("access_token", out var query) && query.Count > 0 ? query[0] : null;
    }
}

/// <summary>401 M_UNKNOWN_TOKEN; <c>soft_logout</c> is false because tokens here do not expire.</summary>
public sealed class UnknownTokenException() : Exception("Unrecognised access token.");
