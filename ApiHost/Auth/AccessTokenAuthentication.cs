using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Accounts;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Auth;

public sealed record AuthenticatedUser(string UserId, string DeviceId, string AccessToken);

/// <summary>Finds the user behind a request's access token (header, or the deprecated query parameter).</summary>
public sealed class AccessTokenAuthentication(AccountStore accounts)
{
    public async Task<AuthenticatedUser> RequireUserAsync(HttpContext http)
    {
        var token = TokenOf(http.Request) ?? throw new MatrixException(401, "M_MISSING_TOKEN", "Missing access token.");
        var owner = await accounts.FindTokenOwnerAsync(token, http.RequestAborted)
            ?? throw new UnknownTokenException();
        return new AuthenticatedUser(owner.UserId, owner.DeviceId, token);
    }

    public static string? TokenOf(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header[7..].Trim();
        return request.Query.TryGetValue("access_token", out var query) && query.Count > 0 ? query[0] : null;
    }
}

/// <summary>401 M_UNKNOWN_TOKEN; <c>soft_logout</c> is false because tokens here do not expire.</summary>
public sealed class UnknownTokenException() : Exception("Unrecognised access token.");
