namespace Homeserver.Configuration;

/// <summary>How the connection to the mail server is secured: Synapse's <c>force_tls</c>, <c>require_transport_security</c> and <c>enable_tls</c>.</summary>
public enum SmtpSecurity
{
    /// <summary><c>enable_tls: false</c>: plain SMTP, never STARTTLS.</summary>
    None,

    /// <summary>The default: STARTTLS when the server offers it.</summary>
    StartTlsWhenAvailable,

    /// <summary><c>require_transport_security</c>: STARTTLS or no mail.</summary>
    StartTls,

    /// <summary><c>force_tls</c>: TLS from the first byte (port 465).</summary>
    ImplicitTls,
}

/// <summary>
/// homeserver.yaml's <c>email</c> section, with Synapse's keys and defaults. Present (and non-empty)
/// means this server validates email addresses itself: it sends the validation mail and checks the token.
/// </summary>
public sealed record EmailOptions
{
    public string SmtpHost { get; init; } = "localhost";
    public int SmtpPort { get; init; } = 25;
    public string? SmtpUser { get; init; }
    public string? SmtpPass { get; init; }
    public SmtpSecurity Security { get; init; } = SmtpSecurity.StartTlsWhenAvailable;

    /// <summary>The From of every mail, such as <c>"Your Server &lt;noreply@example.org&gt;"</c>.</summary>
    public required string NotifFrom { get; init; }

    public string AppName { get; init; } = "Matrix";

    /// <summary>How long a validation token may be submitted after it was sent (<c>validation_token_lifetime</c>).</summary>
    public TimeSpan ValidationTokenLifetime { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Third-party identifier settings outside the <c>email</c> section: Synapse's <c>enable_3pid_changes</c>,
/// <c>registrations_require_3pid</c>, and a test-only switch for identity servers over plain HTTP.
/// </summary>
public sealed record ThreePidOptions
{
    public bool EnableChanges { get; init; } = true;
    public IReadOnlyList<string> RegistrationsRequire { get; init; } = [];

    /// <summary><c>allowed_local_3pids</c>: when any are given, only 3PIDs matching one may be added or registered with.</summary>
    public IReadOnlyList<AllowedThreePid> AllowedLocal { get; init; } = [];

    /// <summary><c>rc_3pid_validation</c>: requestToken calls per client address and per email address (Synapse's default).</summary>
    public RateLimit ValidationRateLimit { get; init; } = new(0.003, 5);

    /// <summary>
    /// <c>request_token_inhibit_3pid_errors</c>: requestToken answers as if it sent mail when the address
    /// is taken (or, for a password reset, unknown), so the endpoint does not tell who has an account.
    /// </summary>
    public bool InhibitRequestTokenErrors { get; init; }

    /// <summary>
    /// <c>identity_server_plain_http_just_for_testing_do_not_use</c>: talk to identity servers over
    /// http:// instead of https://, so tests can run a fake one on loopback without a certificate.
    /// </summary>
    public bool IdentityServerPlainHttp { get; init; }
}

/// <summary>An <c>allowed_local_3pids</c> entry: a medium and a regular expression its addresses must match from their start, as Python's re.match.</summary>
public sealed record AllowedThreePid(string Medium, string Pattern);
