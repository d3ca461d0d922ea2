using System.Net;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.ThreePids;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// requestToken for registration, adding a 3PID and password reset (registration.yaml,
/// administrative_contact.yaml), and the submit_token endpoints their mails and <c>submit_url</c> point
/// at: GET from the mail's link (a page, or a redirect to <c>next_link</c>), POST from a client that asked
/// the user for the token (the identity service's submitToken shape). Phone numbers are refused as Synapse
/// refuses them without an SMS delegate.
/// </summary>
public static class EmailValidationEndpoints
{
    public static IEndpointRouteBuilder MapEmailValidationApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}";
            app.MapPost($"{prefix}/register/email/requestToken", RegisterTokenAsync);
            app.MapPost($"{prefix}/account/3pid/email/requestToken", AddThreePidTokenAsync);
            app.MapPost($"{prefix}/account/password/email/requestToken", PasswordResetTokenAsync);
            app.MapPost($"{prefix}/register/msisdn/requestToken", (Delegate)MsisdnTokenAsync);
            app.MapPost($"{prefix}/account/3pid/msisdn/requestToken", (Delegate)MsisdnTokenAsync);
            app.MapPost($"{prefix}/account/password/msisdn/requestToken", (Delegate)MsisdnTokenAsync);
        }
        foreach (var purpose in ValidationPurpose.All)
        {
            app.MapGet("/" + purpose.SubmitPath, (Delegate)SubmitFromLinkAsync);
            app.MapPost("/" + purpose.SubmitPath, (Delegate)SubmitFromClientAsync);
        }
        return app;
    }

    private static async Task<IResult> RegisterTokenAsync(HttpContext http, ProcessSettings settings, ThreePidRules rules, ThreePidStore store)
    {
        var validation = RequireEmail(http, "Email-based registration has been disabled on this server.");
        if (!settings.EnableRegistration) throw MatrixException.Forbidden("Registration has been disabled.");
        var request = EmailTokenRequest.Parse(await JsonBody.ReadObjectAsync(http.Request));
        if (!await IsNewAllowedEmailAsync(http, rules, store, request.Email, "Your email domain is not authorized to register on this server."))
        {
            return await rules.PretendTokenSentAsync(http.RequestAborted) ?? throw EmailInUse();
        }
        return Results.Json(await validation.RequestTokenAsync(request, ValidationPurpose.Registration, http.RequestAborted));
    }

    private static async Task<IResult> AddThreePidTokenAsync(HttpContext http, ThreePidRules rules, ThreePidStore store)
    {
        rules.RequireChangesEnabled();
        var validation = RequireEmail(http, "Adding an email to your account is disabled on this server.");
        var request = EmailTokenRequest.Parse(await JsonBody.ReadObjectAsync(http.Request));
        if (!await IsNewAllowedEmailAsync(http, rules, store, request.Email, "Your email domain is not authorized on this server."))
        {
            return await rules.PretendTokenSentAsync(http.RequestAborted) ?? throw EmailInUse();
        }
        return Results.Json(await validation.RequestTokenAsync(request, ValidationPurpose.AddThreePid, http.RequestAborted));
    }

    /// <summary>
    /// Whether an address allowed by <c>allowed_local_3pids</c> (403 otherwise), within the validation
    /// rate (429 otherwise), is on no account yet, so a new or existing account may take it.
    /// </summary>
    private static async Task<bool> IsNewAllowedEmailAsync(HttpContext http, ThreePidRules rules, ThreePidStore store, string email, string deniedMessage)
    {
        if (!rules.IsAllowed("email", email)) throw new MatrixException(403, "M_THREEPID_DENIED", deniedMessage);
        rules.Throttle(http, "email", email);
        return await store.FindUserAsync("email", email) is null;
    }

    private static MatrixException EmailInUse() => new(400, "M_THREEPID_IN_USE", "Email is already in use.");

    private static async Task<IResult> PasswordResetTokenAsync(HttpContext http, ThreePidRules rules, ThreePidStore store)
    {
        var validation = RequireEmail(http, "Email-based password resets have been disabled on this server.");
        var request = EmailTokenRequest.Parse(await JsonBody.ReadObjectAsync(http.Request));
        rules.Throttle(http, "email", request.Email);
        if (await store.FindUserAsync("email", request.Email) is null)
        {
            return await rules.PretendTokenSentAsync(http.RequestAborted) ?? throw new MatrixException(400, "M_THREEPID_NOT_FOUND", "Email not found.");
        }
        return Results.Json(await validation.RequestTokenAsync(request, ValidationPurpose.PasswordReset, http.RequestAborted));
    }

    /// <summary>As Synapse answers with no <c>account_threepid_delegates.msisdn</c>: the body is checked, then phone numbers are not supported.</summary>
    private static async Task<IResult> MsisdnTokenAsync(HttpContext http)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request);
        _ = ThreePidInput.ClientSecret(body);
        _ = body.RequiredString("country");
        _ = body.RequiredString("phone_number");
        _ = ThreePidInput.Integer(body, "send_attempt");
        _ = ThreePidInput.NextLink(body);
        throw new MatrixException(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", "Phone numbers are not supported by this homeserver.");
    }

    /// <summary>
    /// The spec lists M_THREEPID_MEDIUM_NOT_SUPPORTED for a server that does not support email; Synapse
    /// sends it for adding an email (and a bare 400 for the others), always with status 400.
    /// </summary>
    private static EmailValidation RequireEmail(HttpContext http, string error) =>
        http.RequestServices.GetRequiredService<ThreePidRules>().EmailConfigured
            ? http.RequestServices.GetRequiredService<EmailValidation>()
            : throw new MatrixException(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED", error);

    private static async Task<IResult> SubmitFromLinkAsync(HttpContext http)
    {
        var validation = RequireEmail(http, "This server does not validate email addresses.");
        string Query(string key) => http.Request.Query[key] is [{ Length: > 0 } value]
            ? value
            : throw new MatrixException(400, "M_MISSING_PARAM", $"Missing query parameter '{key}'.");
        var sid = ThreePidInput.Opaque(Query("sid"), "sid");
        var secret = ThreePidInput.Opaque(Query("client_secret"), "client_secret");
        var submission = await validation.SubmitAsync(sid, secret, Query("token"), http.RequestAborted);
        if (submission.Result is TokenCheck.Validated or TokenCheck.AlreadyValidated)
        {
            return submission.NextLink is { } next ? Results.Redirect(next) : Page(200, "Your email address has been validated. You may close this page and return to your client.");
        }
        return Page(400, $"The email address could not be validated: {Reason(submission.Result)}");
    }

    private static async Task<IResult> SubmitFromClientAsync(HttpContext http)
    {
        var validation = RequireEmail(http, "This server does not validate email addresses.");
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var sid = ThreePidInput.Opaque(body.RequiredString("sid"), "sid");
        var secret = ThreePidInput.ClientSecret(body);
        var submission = await validation.SubmitAsync(sid, secret, body.RequiredString("token"), http.RequestAborted);
        return submission.Result switch
        {
            TokenCheck.Validated or TokenCheck.AlreadyValidated => Results.Json(new JsonObject { ["success"] = true }),
            // The identity service's answer to a wrong token: no error, just no success.
            TokenCheck.WrongToken => Results.Json(new JsonObject { ["success"] = false }),
            TokenCheck.Expired => throw new MatrixException(400, "M_SESSION_EXPIRED", Reason(submission.Result)),
            _ => throw new MatrixException(400, "M_NO_VALID_SESSION", Reason(submission.Result)),
        };
    }

    private static string Reason(TokenCheck check) => check switch
    {
        TokenCheck.WrongToken => "The validation token is not right.",
        TokenCheck.Expired => "This token has expired. Please request a new one.",
        TokenCheck.TooManyAttempts => "Too many wrong tokens were given for this session. Please request a new one.",
        _ => "No such session, or the client_secret does not match it.",
    };

    private static IResult Page(int status, string message) => Results.Content(
        $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Email validation</title></head><body><p>{WebUtility.HtmlEncode(message)}</p></body></html>",
        "text/html; charset=utf-8", statusCode: status);
}
