using Homeserver.Configuration;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// Sends mail through the configured SMTP server (Synapse's <c>email</c> section), one connection per
/// mail: validation mails are rare, and a fresh connection never inherits a half-broken one. The whole
/// exchange is bounded, so a silent or slow mail server holds a request for seconds, not minutes.
/// </summary>
public sealed class SmtpMailer(EmailOptions options)
{
    /// <summary>For connecting, TLS, authentication and sending together.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(15);

    public async Task SendAsync(string to, string subject, string text, CancellationToken cancellationToken)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(options.NotifFrom));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = text };

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(SendTimeout);
        using var client = new SmtpClient { Timeout = (int)SendTimeout.TotalMilliseconds };
        var security = options.Security switch
        {
            SmtpSecurity.None => SecureSocketOptions.None,
            SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
            SmtpSecurity.ImplicitTls => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.StartTlsWhenAvailable,
        };
        try
        {
            await client.ConnectAsync(options.SmtpHost, options.SmtpPort, security, bounded.Token);
            if (options.SmtpUser is { } user) await client.AuthenticateAsync(user, options.SmtpPass ?? "", bounded.Token);
            await client.SendAsync(message, bounded.Token);
            await client.DisconnectAsync(quit: true, bounded.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The mail server did not finish within {SendTimeout.TotalSeconds:0} seconds.");
        }
    }
}
