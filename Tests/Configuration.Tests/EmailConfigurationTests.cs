using Homeserver.Configuration;
using Homeserver.Configuration.Processes;

namespace Homeserver.Tests.Configuration;

/// <summary>Synapse's <c>email</c> section and the 3PID keys beside it: defaults, each key, and the refusals Synapse makes at start.</summary>
public sealed class EmailConfigurationTests
{
    private const string Minimal = """
        server_name: example.org
        listeners:
          - port: 8008
            bind_addresses: ['127.0.0.1']
            resources: [{names: [client]}]
        database:
          name: psycopg2
          args: {user: synapse, dbname: synapse}

        """;

    private static HomeserverOptions Load(string extra) => HomeserverConfigLoader.LoadFromYaml(Minimal + extra, "homeserver.yaml");

    private static string Refusal(string extra)
    {
        var load = () => Load(extra);
        return load.Should().Throw<ConfigurationException>().Which.Message;
    }

    [Fact]
    public void Without_an_email_section_the_server_does_not_validate_email_and_3pid_changes_stay_enabled()
    {
        var options = Load("");
        options.Email.Should().BeNull();
        options.ThreePids.EnableChanges.Should().BeTrue();
        options.ThreePids.RegistrationsRequire.Should().BeEmpty();
        options.ThreePids.AllowedLocal.Should().BeEmpty();
        options.ThreePids.IdentityServerPlainHttp.Should().BeFalse();
        options.ThreePids.ValidationRateLimit.Should().Be(new RateLimit(0.003, 5));
        Load("email: {}\n").Email.Should().BeNull("an empty section is no email configuration, as Synapse's can_verify_email says");
    }

    [Fact]
    public void Synapse_defaults_fill_what_the_section_leaves_out()
    {
        var email = Load("email:\n  notif_from: \"Server <noreply@example.org>\"\n").Email!;
        email.SmtpHost.Should().Be("localhost");
        email.SmtpPort.Should().Be(25);
        email.SmtpUser.Should().BeNull();
        email.SmtpPass.Should().BeNull();
        email.Security.Should().Be(SmtpSecurity.StartTlsWhenAvailable);
        email.NotifFrom.Should().Be("Server <noreply@example.org>");
        email.AppName.Should().Be("Matrix");
        email.ValidationTokenLifetime.Should().Be(TimeSpan.FromHours(1));
    }

    [Fact]
    public void Every_key_is_read()
    {
        var email = Load("""
            email:
              smtp_host: mail.example.org
              smtp_port: 587
              smtp_user: hs
              smtp_pass: secret
              require_transport_security: true
              notif_from: noreply@example.org
              app_name: Example Chat
              validation_token_lifetime: 15m
            """).Email!;
        (email.SmtpHost, email.SmtpPort, email.SmtpUser, email.SmtpPass).Should().Be(("mail.example.org", 587, "hs", "secret"));
        email.Security.Should().Be(SmtpSecurity.StartTls);
        email.AppName.Should().Be("Example Chat");
        email.ValidationTokenLifetime.Should().Be(TimeSpan.FromMinutes(15));
    }

    [Theory]
    [InlineData("force_tls: true", SmtpSecurity.ImplicitTls, 465)]
    [InlineData("force_tls: true\n  smtp_port: 2465", SmtpSecurity.ImplicitTls, 2465)]
    [InlineData("enable_tls: false", SmtpSecurity.None, 25)]
    [InlineData("require_transport_security: true", SmtpSecurity.StartTls, 25)]
    public void Tls_settings_choose_how_the_connection_is_secured(string setting, SmtpSecurity security, int port)
    {
        var email = Load($"email:\n  notif_from: noreply@example.org\n  {setting}\n").Email!;
        email.Security.Should().Be(security);
        email.SmtpPort.Should().Be(port, "force_tls defaults the port to 465, as Synapse does");
    }

    [Theory]
    [InlineData("500", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1w", 604_800_000)]
    public void Token_lifetimes_are_synapse_durations(string text, long milliseconds) =>
        Load($"email:\n  notif_from: noreply@example.org\n  validation_token_lifetime: {text}\n").Email!.ValidationTokenLifetime
            .Should().Be(TimeSpan.FromMilliseconds(milliseconds));

    [Theory]
    [InlineData("email:\n  smtp_host: mail.example.org\n", "`email.notif_from` is needed")]
    [InlineData("email:\n  notif_from: not an address\n", "`email.notif_from` must be an email address")]
    [InlineData("email:\n  notif_from: a@example.org\n  force_tls: true\n  enable_tls: false\n", "`email.force_tls` requires `email.enable_tls`")]
    [InlineData("email:\n  notif_from: a@example.org\n  require_transport_security: true\n  enable_tls: false\n", "`email.require_transport_security` requires")]
    [InlineData("email:\n  notif_from: a@example.org\n  smtp_port: 0\n", "`email.smtp_port` must be a number from 1 to 65535")]
    [InlineData("email:\n  notif_from: a@example.org\n  validation_token_lifetime: soon\n", "`email.validation_token_lifetime` must be a duration")]
    [InlineData("email:\n  notif_from: a@example.org\n  validation_token_lifetime: -1h\n", "`email.validation_token_lifetime` must be a duration")]
    [InlineData("registrations_require_3pid: [email]\n", "the `email` section that would validate it is missing")]
    [InlineData("registrations_require_3pid: [msisdn]\n", "cannot validate phone numbers")]
    [InlineData("registrations_require_3pid: [fax]\n", "lists `fax`")]
    [InlineData("allowed_local_3pids:\n  - medium: email\n    pattern: '(unclosed'\n", "`allowed_local_3pids[0].pattern` is not a regular expression")]
    public void Bad_settings_are_refused_with_the_key_named(string extra, string expected) =>
        Refusal(extra).Should().Contain(expected);

    [Fact]
    public void Threepid_keys_beside_the_section_are_read_and_reach_the_process_settings()
    {
        var options = Load("""
            email: {notif_from: noreply@example.org}
            registrations_require_3pid: [email]
            enable_3pid_changes: false
            allowed_local_3pids:
              - medium: email
                pattern: '^[^@]+@example\.org$'
            rc_3pid_validation: {per_second: 1, burst_count: 20}
            identity_server_plain_http_just_for_testing_do_not_use: true
            request_token_inhibit_3pid_errors: true
            """);
        options.ThreePids.RegistrationsRequire.Should().Equal("email");
        options.ThreePids.EnableChanges.Should().BeFalse();
        options.ThreePids.AllowedLocal.Should().Equal(new AllowedThreePid("email", @"^[^@]+@example\.org$"));
        options.ThreePids.ValidationRateLimit.Should().Be(new RateLimit(1, 20));
        options.ThreePids.IdentityServerPlainHttp.Should().BeTrue();
        options.ThreePids.InhibitRequestTokenErrors.Should().BeTrue();
        new ThreePidOptions().InhibitRequestTokenErrors.Should().BeFalse("Synapse's default");
        options.Warnings.Should().Contain(w => w.Contains("identity_server_plain_http_just_for_testing_do_not_use"));

        var settings = ProcessSettingsLoader.FromOptions(options, null, ProcessKind.Monolith);
        settings.Email.Should().Be(options.Email);
        settings.ThreePids.Should().Be(options.ThreePids);
    }
}
