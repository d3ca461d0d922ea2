using System.Security.Cryptography;
using System.Text;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Accounts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.Admin;

/// <summary>
/// Synapse's shared-secret registration (<c>/_synapse/admin/v1/register</c>): a nonce, then an
/// HMAC-SHA1 over nonce, username, password and admin flag keyed with <c>registration_shared_secret</c>.
/// This is what <c>register_new_matrix_user</c> speaks.
/// </summary>
public static class SharedSecretRegistrationEndpoints
{
    private static readonly TimeSpan NonceLifetime = TimeSpan.FromMinutes(1);

    public static IEndpointRouteBuilder MapSharedSecretRegistration(this IEndpointRouteBuilder app)
    {
        app.MapGet("/_synapse/admin/v1/register", NonceAsync);
        app.MapPost("/_synapse/admin/v1/register", RegisterAsync);
        return app;
    }

    public static string Mac(string secret, string nonce, string username, string password, bool admin, string? userType = null)
    {
        var message = $"{nonce}\0{username}\0{password}\0{(admin ? "admin" : "notadmin")}" + (userType is null ? "" : $"\0{userType}");
        return Convert.ToHexStringLower(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(message)));
    }

    private static async Task<IResult> NonceAsync(ProcessSettings settings, AuthSessionStore store, TimeProvider clock)
    {
        RequireEnabled(settings);
        var nonce = RandomText.UrlSafe(32);
        await store.StoreNonceAsync(nonce, clock.GetUtcNow().ToUnixTimeMilliseconds());
        return Results.Json(new { nonce });
    }

    private static async Task<IResult> RegisterAsync(HttpContext http, ProcessSettings settings, AuthSessionStore store, TimeProvider clock,
        UserIdResolver users, AccountStore accounts, PasswordHasher hasher, IGrainFactory grains)
    {
        var secret = RequireEnabled(settings);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var nonce = body.RequiredString("nonce");
        var username = body.RequiredString("username");
        var password = body.RequiredString("password");
        var admin = body.OptionalBool("admin", false);
        var mac = body.RequiredString("mac");
        var userType = body.OptionalString("user_type");

        var notBefore = (clock.GetUtcNow() - NonceLifetime).ToUnixTimeMilliseconds();
        if (!await store.ConsumeNonceAsync(nonce, notBefore)) throw new MatrixException(400, "M_UNKNOWN", "Unrecognised or expired nonce.");
        var expected = Mac(secret, nonce, username, password, admin, userType);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(mac.ToLowerInvariant())))
        {
            throw MatrixException.Forbidden("HMAC incorrect.");
        }

        // The MAC covers the username as sent; the account is its lower-case form, as Synapse registers it.
        var userId = users.NewLocalUser(username.ToLowerInvariant());
        if (await accounts.UserExistsAsync(userId)) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        var registration = await grains.GetGrain<IUserGrain>(userId).RegisterAsync(new RegisterCommand(
            hasher.Hash(password), admin, body.OptionalString("displayname"), IssueSession: true, DeviceId: null, DeviceDisplayName: null), http.RequestAborted);
        return Results.Json(new
        {
            user_id = registration.UserId,
            access_token = registration.AccessToken,
            device_id = registration.DeviceId,
            home_server = settings.ServerName,
        });
    }

    private static string RequireEnabled(ProcessSettings settings) => settings.RegistrationSharedSecret
        ?? throw new MatrixException(400, "M_UNKNOWN", "Shared secret registration is not enabled.");
}
