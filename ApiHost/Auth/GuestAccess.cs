using Microsoft.AspNetCore.Builder;

namespace Homeserver.ApiHost.Auth;

/// <summary>
/// Endpoint metadata saying a guest account may call the endpoint. The spec's Guest Access module lists
/// the endpoints guests may use and <see cref="AccessTokenAuthentication"/> refuses a guest everywhere
/// else with 403 M_GUEST_ACCESS_FORBIDDEN, so an endpoint is closed to guests until its mapping says
/// <see cref="GuestAccessEndpoints.AllowGuests"/>, and an endpoint added later is closed too.
/// </summary>
public sealed class GuestAccessAllowed
{
    public static readonly GuestAccessAllowed Instance = new();

    private GuestAccessAllowed()
    {
    }
}

public static class GuestAccessEndpoints
{
    /// <summary>Opens the endpoint to guests: only for the endpoints the spec's Guest Access module lists (and the few Synapse adds).</summary>
    public static TBuilder AllowGuests<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(GuestAccessAllowed.Instance);
}
