using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>
/// The server's own email validation: POST .../email/requestToken for adding a 3PID, registering and
/// resetting a password (request_email_validation.yaml, request_token_response.yaml), the msisdn ones
/// (refused, as Synapse refuses them without an SMS delegate), and the submit_token endpoints.
/// </summary>
public sealed partial class EmailValidationApiTests(ThreePidClusterFixture fixture) : IClassFixture<ThreePidClusterFixture>
{
    private MatrixClient Anonymous() => new(fixture.BaseAddress);

    [Fact]
    public async Task RequestToken_answers_a_sid_and_submit_url_and_mails_a_token_from_notif_from()
    {
        using var client = Anonymous();
        var email = EmailFlow.NewEmail();
        var (status, body) = await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, EmailFlow.NewSecret()));
        status.Should().Be(200, body.ToJsonString());
        body["sid"]!.GetValue<string>().Should().MatchRegex("^[0-9a-zA-Z.=_-]{1,255}$");
        body["submit_url"]!.GetValue<string>().Should().Be("https://matrix.test.local/_matrix/client/unstable/add_threepid/email/submit_token");

        var mail = await fixture.Smtp.NextToAsync(email);
        mail.From.ToString().Should().Contain("noreply@test.local");
        mail.Subject.Should().Be("[Test Chat] Validate your email", "app_name names the service in the subject, as Synapse's templates do");
        EmailFlow.TokenIn(mail).Should().HaveLength(32);
        var link = EmailFlow.LinkIn(mail);
        link.AbsolutePath.Should().Be("/_matrix/client/unstable/add_threepid/email/submit_token");
        link.Query.Should().Contain("sid=" + body["sid"]!.GetValue<string>()).And.Contain("token=" + EmailFlow.TokenIn(mail));
    }

    [Fact]
    public async Task The_same_send_attempt_sends_nothing_again_and_a_higher_one_mails_a_new_token_in_the_same_session()
    {
        using var client = Anonymous();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var first = (await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret))).Body["sid"]!.GetValue<string>();
        var firstMail = await fixture.Smtp.NextToAsync(email);
        var again = await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret));
        (again.Status, again.Body["sid"]!.GetValue<string>()).Should().Be((200, first));
        var reminder = await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret, attempt: 2));
        reminder.Body["sid"]!.GetValue<string>().Should().Be(first);
        var secondMail = await fixture.Smtp.NextToAsync(email, 1);
        EmailFlow.TokenIn(secondMail).Should().NotBe(EmailFlow.TokenIn(firstMail));
        (await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret, attempt: 1))).Body["sid"]!.GetValue<string>().Should().Be(first);
        fixture.Smtp.To(email).Should().HaveCount(2, "only send_attempts above the last seen send a mail");

        var other = await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, EmailFlow.NewSecret()));
        other.Body["sid"]!.GetValue<string>().Should().NotBe(first, "the session is scoped to the email and client_secret pair");
    }

    [Theory]
    [InlineData("{\"email\":\"a@example.org\",\"send_attempt\":1}", 400, "M_MISSING_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"send_attempt\":1}", 400, "M_MISSING_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@example.org\"}", 400, "M_MISSING_PARAM")]
    [InlineData("{\"client_secret\":\"not allowed!\",\"email\":\"a@example.org\",\"send_attempt\":1}", 400, "M_INVALID_PARAM")]
    [InlineData("{\"client_secret\":\"\",\"email\":\"a@example.org\",\"send_attempt\":1}", 400, "M_INVALID_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"no-at-sign\",\"send_attempt\":1}", 400, "M_INVALID_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@b@example.org\",\"send_attempt\":1}", 400, "M_INVALID_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@example.org\",\"send_attempt\":\"1\"}", 400, "M_BAD_JSON")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@example.org\",\"send_attempt\":-1}", 400, "M_BAD_JSON")]
    [InlineData("{\"client_secret\":7,\"email\":\"a@example.org\",\"send_attempt\":1}", 400, "M_BAD_JSON")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@example.org\",\"send_attempt\":1,\"next_link\":\"file:///etc/passwd\"}", 400, "M_INVALID_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@example.org\",\"send_attempt\":1,\"next_link\":\"not a url\"}", 400, "M_INVALID_PARAM")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@example.org\",\"send_attempt\":1,\"id_server\":5}", 400, "M_BAD_JSON")]
    [InlineData("{\"client_secret\":\"s\",\"email\":\"a@elsewhere.test\",\"send_attempt\":1}", 403, "M_THREEPID_DENIED")]
    [InlineData("[]", 400, "M_BAD_JSON")]
    public async Task Bad_requests_get_the_spec_errors(string body, int status, string errCode)
    {
        using var client = Anonymous();
        foreach (var path in new[] { EmailFlow.AddPath, EmailFlow.RegisterPath })
        {
            var (got, answer) = await client.SendAsync(HttpMethod.Post, path, body);
            (got, answer["errcode"]?.GetValue<string>()).Should().Be((status, errCode), $"{path}: {answer.ToJsonString()}");
        }
    }

    [Fact]
    public async Task An_address_already_on_an_account_is_in_use_for_adding_and_registering_and_known_to_password_reset()
    {
        using var alice = Anonymous();
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var (unknown, unknownBody) = await alice.PostAsync(EmailFlow.PasswordPath, EmailFlow.Request(email, secret));
        (unknown, unknownBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_THREEPID_NOT_FOUND"));

        var sid = await EmailFlow.ValidateAsync(fixture, alice, email, secret);
        await EmailFlow.AddAsync(alice, sid, secret, "pw");

        // The same address in another case and with spaces is the same address.
        var shouted = "  " + email.ToUpperInvariant() + " ";
        foreach (var path in new[] { EmailFlow.AddPath, EmailFlow.RegisterPath })
        {
            var (status, body) = await alice.PostAsync(path, EmailFlow.Request(shouted, EmailFlow.NewSecret()));
            (status, body["errcode"]!.GetValue<string>()).Should().Be((400, "M_THREEPID_IN_USE"), path);
        }
        var (reset, resetBody) = await alice.PostAsync(EmailFlow.PasswordPath, EmailFlow.Request(shouted, EmailFlow.NewSecret()));
        reset.Should().Be(200, resetBody.ToJsonString());
        var mail = await fixture.Smtp.NextToAsync(email, fixture.Smtp.To(email).Count - 1);
        mail.Subject.Should().Be("[Test Chat] Password reset");
        EmailFlow.LinkIn(mail).AbsolutePath.Should().Be("/_synapse/client/password_reset/email/submit_token");
        resetBody["submit_url"]!.GetValue<string>().Should().EndWith("/_synapse/client/password_reset/email/submit_token");
    }

    [Fact]
    public async Task Registration_tokens_are_mailed_with_their_own_submit_path()
    {
        using var client = Anonymous();
        var email = EmailFlow.NewEmail("allowed.test");
        var (status, body) = await client.PostAsync(EmailFlow.RegisterPath, EmailFlow.Request(email, EmailFlow.NewSecret()));
        status.Should().Be(200, body.ToJsonString());
        body["submit_url"]!.GetValue<string>().Should().EndWith("/_matrix/client/unstable/registration/email/submit_token");
        EmailFlow.LinkIn(await fixture.Smtp.NextToAsync(email)).AbsolutePath.Should().Be("/_matrix/client/unstable/registration/email/submit_token");
    }

    [Fact]
    public async Task A_mail_server_that_refuses_gives_a_clear_error_and_the_same_attempt_may_be_retried()
    {
        using var client = Anonymous();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        fixture.Smtp.Refuse = true;
        try
        {
            var (status, body) = await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret));
            (status, body["errcode"]!.GetValue<string>()).Should().Be((500, "M_UNKNOWN"));
            body["error"]!.GetValue<string>().Should().Contain("sending the email");
        }
        finally
        {
            fixture.Smtp.Refuse = false;
        }
        var retry = await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret));
        retry.Status.Should().Be(200);
        (await fixture.Smtp.NextToAsync(email)).Should().NotBeNull("the failed attempt was not counted as sent");
    }

    [Fact]
    public async Task Submitting_a_token_by_post_validates_once_and_wrong_secrets_tokens_and_sessions_fail()
    {
        using var client = Anonymous();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var sid = (await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret))).Body["sid"]!.GetValue<string>();
        var token = EmailFlow.TokenIn(await fixture.Smtp.NextToAsync(email));
        JsonObject Submit(string s, string c, string t) => new() { ["sid"] = s, ["client_secret"] = c, ["token"] = t };

        var wrong = await client.PostAsync(EmailFlow.AddSubmitPath, Submit(sid, secret, "not-the-token"));
        (wrong.Status, wrong.Body["success"]!.GetValue<bool>()).Should().Be((200, false));
        var otherSecret = await client.PostAsync(EmailFlow.AddSubmitPath, Submit(sid, EmailFlow.NewSecret(), token));
        (otherSecret.Status, otherSecret.Body["errcode"]!.GetValue<string>()).Should().Be((400, "M_NO_VALID_SESSION"));
        var unknown = await client.PostAsync(EmailFlow.AddSubmitPath, Submit("nosuchsession", secret, token));
        (unknown.Status, unknown.Body["errcode"]!.GetValue<string>()).Should().Be((400, "M_NO_VALID_SESSION"));
        var missing = await client.PostAsync(EmailFlow.AddSubmitPath, new JsonObject { ["sid"] = sid, ["client_secret"] = secret });
        (missing.Status, missing.Body["errcode"]!.GetValue<string>()).Should().Be((400, "M_MISSING_PARAM"));
        var badSid = await client.PostAsync(EmailFlow.AddSubmitPath, Submit("bad sid!", secret, token));
        (badSid.Status, badSid.Body["errcode"]!.GetValue<string>()).Should().Be((400, "M_INVALID_PARAM"));

        var right = await client.PostAsync(EmailFlow.AddSubmitPath, Submit(sid, secret, token));
        (right.Status, right.Body["success"]!.GetValue<bool>()).Should().Be((200, true));
        (await client.PostAsync(EmailFlow.AddSubmitPath, Submit(sid, secret, token))).Body["success"]!.GetValue<bool>()
            .Should().BeTrue("submitting again to a validated session is still a success");
    }

    [Fact]
    public async Task A_session_stops_taking_tokens_after_ten_wrong_ones()
    {
        using var client = Anonymous();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var sid = (await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret))).Body["sid"]!.GetValue<string>();
        var token = EmailFlow.TokenIn(await fixture.Smtp.NextToAsync(email));
        for (var i = 0; i < 10; i++)
        {
            (await client.PostAsync(EmailFlow.AddSubmitPath, new JsonObject { ["sid"] = sid, ["client_secret"] = secret, ["token"] = $"guess{i}" }))
                .Body["success"]!.GetValue<bool>().Should().BeFalse();
        }
        var (status, body) = await client.PostAsync(EmailFlow.AddSubmitPath, new JsonObject { ["sid"] = sid, ["client_secret"] = secret, ["token"] = token });
        (status, body["errcode"]!.GetValue<string>()).Should().Be((400, "M_NO_VALID_SESSION"));
        body["error"]!.GetValue<string>().Should().Contain("Too many");
    }

    [Fact]
    public async Task The_mailed_link_validates_with_a_page_or_redirects_to_next_link()
    {
        using var client = Anonymous();
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.BaseAddress };
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret));
        var link = EmailFlow.LinkIn(await fixture.Smtp.NextToAsync(email));
        var page = await browser.GetAsync(link.PathAndQuery);
        page.StatusCode.Should().Be(HttpStatusCode.OK);
        page.Content.Headers.ContentType!.MediaType.Should().Be("text/html");
        (await page.Content.ReadAsStringAsync()).Should().Contain("validated");

        var (nextEmail, nextSecret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var request = EmailFlow.Request(nextEmail, nextSecret);
        request["next_link"] = "https://client.example.org/done?x=1";
        await client.PostAsync(EmailFlow.AddPath, request);
        var redirect = await browser.GetAsync(EmailFlow.LinkIn(await fixture.Smtp.NextToAsync(nextEmail)).PathAndQuery);
        redirect.StatusCode.Should().Be(HttpStatusCode.Redirect);
        redirect.Headers.Location!.ToString().Should().Be("https://client.example.org/done?x=1");

        var missing = await browser.GetAsync("/_matrix/client/unstable/add_threepid/email/submit_token?sid=x&client_secret=y");
        missing.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await missing.Content.ReadAsStringAsync()).Should().Contain("M_MISSING_PARAM");
    }

    [Fact]
    public async Task A_wrong_token_in_the_link_shows_a_failure_page()
    {
        using var client = Anonymous();
        using var browser = new HttpClient { BaseAddress = fixture.BaseAddress };
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        await client.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret));
        var link = EmailFlow.LinkIn(await fixture.Smtp.NextToAsync(email));
        var page = await browser.GetAsync(Regex.Replace(link.PathAndQuery, "token=[^&]+", "token=wrong"));
        page.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await page.Content.ReadAsStringAsync()).Should().Contain("could not be validated");
    }

    [Theory]
    [InlineData("/_matrix/client/v3/account/3pid/msisdn/requestToken")]
    [InlineData("/_matrix/client/v3/register/msisdn/requestToken")]
    [InlineData("/_matrix/client/v3/account/password/msisdn/requestToken")]
    public async Task Phone_numbers_are_not_supported_once_the_request_is_well_formed(string path)
    {
        using var client = Anonymous();
        var valid = new JsonObject { ["client_secret"] = "s", ["country"] = "GB", ["phone_number"] = "07700900001", ["send_attempt"] = 1 };
        var (status, body) = await client.PostAsync(path, valid);
        (status, body["errcode"]!.GetValue<string>()).Should().Be((400, "M_THREEPID_MEDIUM_NOT_SUPPORTED"));
        valid.Remove("country");
        var (missing, missingBody) = await client.PostAsync(path, valid);
        (missing, missingBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_MISSING_PARAM"));
    }
}
