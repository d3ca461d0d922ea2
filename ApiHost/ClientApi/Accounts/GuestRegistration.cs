using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Storage.Accounts;
using Microsoft.AspNetCore.Http;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Accounts;

/// <summary>
/// Guest accounts (spec "Guest Access"): <c>POST /register?kind=guest</c> makes one without
/// user-interactive auth, and an ordinary registration carrying <c>guest_access_token</c> and the
/// guest's localpart as <c>username</c> upgrades it in place, so the account keeps its user ID,
/// rooms and devices (Synapse does the same).
/// </summary>
internal static class GuestRegistration
{
    private const string GuestTokenField = "guest_access_token";

    /// <summary>How often a new guest number may land on a numeric ID someone took before guests existed.</summary>
    private const int MaxLocalpartAttempts = 10;

    public static async Task<IResult> RegisterGuestAsync(HttpContext http, ProcessSettings settings, UserIdResolver users,
        AccountStore accounts, IGrainFactory grains)
    {
        // Every other field of the body is ignored for a guest, as registration.yaml requires: the server picks the ID and device.
        var body = await JsonBody.ReadObjectAsync(http.Request, allowEmpty: true);
        var deviceName = body.OptionalString("initial_device_display_name");
        for (var attempt = 1; ; attempt++)
        {
            var number = await accounts.NextGuestNumberAsync(http.RequestAborted);
            var userId = users.NewLocalUser(number.ToString(CultureInfo.InvariantCulture));
            try
            {
                var guest = await grains.GetGrain<IUserGrain>(userId).RegisterAsync(
                    new RegisterCommand(PasswordHash: null, IsAdmin: false, DisplayName: null, IssueSession: true, DeviceId: null, deviceName, IsGuest: true),
                    http.RequestAborted);
                return Results.Json(new JsonObject
                {
                    ["user_id"] = guest.UserId,
                    ["access_token"] = guest.AccessToken,
                    ["device_id"] = guest.DeviceId,
                    ["home_server"] = settings.ServerName,
                });
            }
            catch (MatrixException taken) when (taken.ErrCode == "M_USER_IN_USE" && attempt < MaxLocalpartAttempts)
            {
            }
        }
    }

    /// <summary>
    /// Replaces the body's guest access token with its SHA-256, so the UIA session (kept in PostgreSQL
    /// until it completes) never holds a usable token; each request of the session hashes what it sends
    /// the same way, so a resent token still matches. Returns the hash, or null without a token.
    /// </summary>
    public static string? HashGuestToken(JsonObject body)
    {
        if (body.OptionalString(GuestTokenField) is not { } token) return null;
        var hash = Convert.ToHexString(AccountStore.HashToken(token));
        body[GuestTokenField] = hash;
        return hash;
    }

    /// <summary>The hashed guest token of a completed session's body, if it upgrades a guest.</summary>
    public static string? GuestTokenHashOf(JsonObject parameters) => parameters.OptionalString(GuestTokenField);

    /// <summary>Throws 403 unless the hashed token is a current token of the guest <paramref name="userId"/>.</summary>
    public static async Task RequireGuestAsync(AccountStore accounts, string tokenHash, string userId, CancellationToken cancellationToken)
    {
        var owner = await accounts.FindTokenOwnerByHashAsync(Convert.FromHexString(tokenHash), cancellationToken);
        if (owner is not { IsGuest: true } || owner.UserId != userId)
        {
            throw MatrixException.Forbidden("Cannot register a taken user ID without valid guest credentials for that user.");
        }
    }

    /// <summary>Numeric localparts are the guests' (as in Synapse), so a later guest never finds its number taken by a user.</summary>
    public static bool IsGuestLocalpart(string localpart) => localpart.Length > 0 && localpart.All(char.IsAsciiDigit);
}
