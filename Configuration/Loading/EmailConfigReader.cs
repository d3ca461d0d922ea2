using System.Globalization;
using System.Net.Mail;

namespace Homeserver.Configuration;

/// <summary>Reads the <c>email</c> section and the 3PID keys beside it, with Synapse's defaults and checks.</summary>
internal static class EmailConfigReader
{
    /// <summary>Null when the section is absent or empty: Synapse then cannot verify email (<c>can_verify_email</c>).</summary>
    public static EmailOptions? ReadEmail(YamlSection root)
    {
        var section = root.Section("email");
        if (section is null || !section.Keys.Any()) return null;
        var forceTls = section.Bool("force_tls", false);
        var requireSecurity = section.Bool("require_transport_security", false);
        var enableTls = section.Bool("enable_tls", true);
        if ((forceTls || requireSecurity) && !enableTls)
        {
            throw new ConfigurationException(
                $"{section.File}: `{section.PathOf(forceTls ? "force_tls" : "require_transport_security")}` requires `{section.PathOf("enable_tls")}` to be true.");
        }
        var from = section.String("notif_from")
            ?? throw new ConfigurationException($"{section.File}: `{section.PathOf("notif_from")}` is needed to send email (validation mails are sent from it).");
        if (!MailAddress.TryCreate(from, out _))
        {
            throw new ConfigurationException($"{section.File}: `{section.PathOf("notif_from")}` must be an email address such as `Server <noreply@example.org>`, not `{from}`.");
        }
        return new EmailOptions
        {
            SmtpHost = section.String("smtp_host") ?? "localhost",
            SmtpPort = section.Int("smtp_port", forceTls ? 465 : 25, 1, 65535),
            SmtpUser = section.String("smtp_user"),
            SmtpPass = section.String("smtp_pass"),
            Security = forceTls ? SmtpSecurity.ImplicitTls
                : requireSecurity ? SmtpSecurity.StartTls
                : enableTls ? SmtpSecurity.StartTlsWhenAvailable
                : SmtpSecurity.None,
            NotifFrom = from,
            AppName = section.String("app_name") ?? "Matrix",
            ValidationTokenLifetime = Duration(section, "validation_token_lifetime", TimeSpan.FromHours(1)),
        };
    }

    public static ThreePidOptions ReadThreePids(YamlSection root, EmailOptions? email)
    {
        var required = root.StringOrList("registrations_require_3pid") ?? [];
        foreach (var medium in required)
        {
            if (medium is not ("email" or "msisdn"))
            {
                throw new ConfigurationException($"{root.File}: `registrations_require_3pid` lists `{medium}`; the media are `email` and `msisdn`.");
            }
            // As Synapse refuses to start: nothing could ever register.
            if (medium == "email" && email is null)
            {
                throw new ConfigurationException($"{root.File}: `registrations_require_3pid` requires email, but the `email` section that would validate it is missing.");
            }
            if (medium == "msisdn")
            {
                throw new ConfigurationException($"{root.File}: `registrations_require_3pid` requires msisdn, but this server cannot validate phone numbers.");
            }
        }
        var allowed = new List<AllowedThreePid>();
        foreach (var entry in root.Sections("allowed_local_3pids"))
        {
            var pattern = entry.RequiredString("pattern");
            try
            {
                _ = new System.Text.RegularExpressions.Regex(pattern);
            }
            catch (ArgumentException e)
            {
                throw new ConfigurationException($"{entry.File}: `{entry.PathOf("pattern")}` is not a regular expression ({e.Message}).");
            }
            allowed.Add(new AllowedThreePid(entry.RequiredString("medium"), pattern));
        }
        var limit = root.Section("rc_3pid_validation");
        var defaults = new ThreePidOptions();
        return new ThreePidOptions
        {
            AllowedLocal = allowed,
            ValidationRateLimit = limit is null
                ? defaults.ValidationRateLimit
                : new RateLimit(limit.Double("per_second", defaults.ValidationRateLimit.PerSecond), limit.Double("burst_count", defaults.ValidationRateLimit.BurstCount)),
            EnableChanges = root.Bool("enable_3pid_changes", true),
            RegistrationsRequire = required,
            InhibitRequestTokenErrors = root.Bool("request_token_inhibit_3pid_errors", false),
            IdentityServerPlainHttp = root.Bool("identity_server_plain_http_just_for_testing_do_not_use", false),
        };
    }

    /// <summary>Synapse's durations: a bare number is milliseconds; a suffix s, m, h, d, w or y scales it.</summary>
    internal static TimeSpan Duration(YamlSection section, string key, TimeSpan fallback)
    {
        var text = section.String(key);
        if (text is null) return fallback;
        var scale = text[^1] switch
        {
            's' => 1000L, 'm' => 60_000L, 'h' => 3_600_000L, 'd' => 86_400_000L, 'w' => 604_800_000L, 'y' => 31_536_000_000L,
            _ => 1L,
        };
        var digits = scale == 1 ? text : text[..^1];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 && n <= long.MaxValue / scale / 10_000
            ? TimeSpan.FromMilliseconds(n * scale)
            : throw new ConfigurationException($"{section.File}: `{section.PathOf(key)}` must be a duration such as 1h or 15m, not `{text}`.");
    }
}
