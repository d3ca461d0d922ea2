using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.ThreePids;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>A parsed requestToken body (request_email_validation.yaml).</summary>
public sealed record EmailTokenRequest(string ClientSecret, string Email, long SendAttempt, string? NextLink)
{
    public static EmailTokenRequest Parse(JsonObject body)
    {
        var secret = ThreePidInput.ClientSecret(body);
        var email = ThreePidInput.Email(body.RequiredString("email"));
        var attempt = ThreePidInput.Integer(body, "send_attempt");
        // id_server and id_access_token are ignored: this server validates the address itself (the spec allows it), but they must be strings.
        _ = body.OptionalString("id_server");
        _ = body.OptionalString("id_access_token");
        return new EmailTokenRequest(secret, email, attempt, ThreePidInput.NextLink(body));
    }
}

/// <summary>
/// The server's own email validation, as Synapse does it without <c>account_threepid_delegates</c>: a
/// requestToken opens a session and mails a token (a link and the token itself); submitting the token
/// validates the session, which registration, /account/3pid/add and password reset then consume.
/// </summary>
public sealed class EmailValidation(ThreePidStore store, SmtpMailer mailer, EmailOptions options, ProcessSettings settings, TimeProvider clock, ThreePidLog log)
{
    /// <summary>Wrong tokens a session takes before it accepts none (tokens are 32 random characters: this only stops endless guessing).</summary>
    public const int MaxFailedSubmissions = 10;

    /// <summary>How long an unused or validated session is kept, beyond its token's lifetime.</summary>
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromDays(1);

    /// <summary>Opens or continues the session and, for a new send_attempt, mails the token; the answer holds <c>sid</c> and <c>submit_url</c>.</summary>
    public async Task<JsonObject> RequestTokenAsync(EmailTokenRequest request, ValidationPurpose purpose, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var token = RandomText.UrlSafe(32);
        var start = await store.StartOrContinueAsync("email", request.Email, request.ClientSecret, request.SendAttempt, RandomText.Letters(16), token,
            request.NextLink, now.ToUnixTimeMilliseconds(), (now + options.ValidationTokenLifetime).ToUnixTimeMilliseconds(),
            (now - SessionLifetime - options.ValidationTokenLifetime).ToUnixTimeMilliseconds(), cancellationToken);
        if (start.MustSend)
        {
            var link = $"{BaseUrl}{purpose.SubmitPath}?token={Uri.EscapeDataString(token)}&client_secret={Uri.EscapeDataString(request.ClientSecret)}&sid={Uri.EscapeDataString(start.SessionId)}";
            var text = $"""
                Someone asked to {purpose.Action} on {settings.ServerName} with this email address.

                To confirm that it was you, open this link:

                {link}

                or enter this code where you were asked for it: {token}

                If it was not you, ignore this mail: nothing happens until the link is opened.
                """;
            try
            {
                // The request's cancellation is not passed on: a client that gave up must not leave a half-sent mail and a spent attempt.
                await mailer.SendAsync(request.Email, $"[{options.AppName}] {purpose.Subject}", text, CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.MailFailed(e, purpose.Name, options.SmtpHost, options.SmtpPort);
                await store.UndoSendAsync(start.SessionId, token, request.SendAttempt, start.PreviousSendAttempt, CancellationToken.None);
                throw new MatrixException(500, "M_UNKNOWN", "An error was encountered when sending the email; try again later.");
            }
        }
        return new JsonObject { ["sid"] = start.SessionId, ["submit_url"] = BaseUrl + purpose.SubmitPath };
    }

    public Task<TokenSubmission> SubmitAsync(string sessionId, string clientSecret, string token, CancellationToken cancellationToken) =>
        store.SubmitTokenAsync(sessionId, clientSecret, token, clock.GetUtcNow().ToUnixTimeMilliseconds(), MaxFailedSubmissions, cancellationToken);

    /// <summary>Synapse's public_baseurl, which defaults to https://server_name/.</summary>
    private string BaseUrl => settings.PublicBaseUrl is { } configured
        ? configured.EndsWith('/') ? configured : configured + "/"
        : $"https://{settings.ServerName}/";
}
