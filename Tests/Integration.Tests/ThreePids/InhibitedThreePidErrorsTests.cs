using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>
/// Synapse's <c>request_token_inhibit_3pid_errors</c>: a requestToken for an address already on an
/// account (registration, adding it) or on none (password reset) answers as a sent one would, a made-up
/// sid and no mail, so the endpoints cannot be used to learn who has an account here.
/// </summary>
public sealed class InhibitedThreePidErrorsTests(InhibitedThreePidErrorsClusterFixture fixture) : IClassFixture<InhibitedThreePidErrorsClusterFixture>
{
    [Fact]
    public async Task Taken_and_unknown_addresses_get_a_sid_and_no_mail_while_free_ones_still_get_their_mail()
    {
        using var alice = new MatrixClient(fixture.BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var (taken, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        await EmailFlow.AddAsync(alice, await EmailFlow.ValidateAsync(fixture, alice, taken, secret), secret, "pw");
        var unknown = EmailFlow.NewEmail();

        using var anonymous = new MatrixClient(fixture.BaseAddress);
        foreach (var (client, path, email) in new[]
        {
            (anonymous, EmailFlow.RegisterPath, taken), (alice, EmailFlow.AddPath, taken), (anonymous, EmailFlow.PasswordPath, unknown),
        })
        {
            var (status, body) = await client.PostAsync(path, EmailFlow.Request(email, EmailFlow.NewSecret()));
            status.Should().Be(200, $"{path}: {body.ToJsonString()}");
            body["sid"]!.GetValue<string>().Should().MatchRegex("^[a-zA-Z]{16}$");
        }

        // The validation rules still hold: an address outside allowed_local_3pids is refused outright.
        var (denied, deniedBody) = await anonymous.PostAsync(EmailFlow.RegisterPath, EmailFlow.Request(EmailFlow.NewEmail("elsewhere.test"), EmailFlow.NewSecret()));
        (denied, deniedBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_THREEPID_DENIED"));

        // A password reset for the address that has an account is mailed; the pretended ones never were.
        var seen = fixture.Smtp.To(taken).Count;
        (await anonymous.PostAsync(EmailFlow.PasswordPath, EmailFlow.Request(taken, EmailFlow.NewSecret()))).Status.Should().Be(200);
        await fixture.Smtp.NextToAsync(taken, seen);
        fixture.Smtp.To(taken).Should().HaveCount(seen + 1, "only the real reset sent mail; the registration and add requests did not");
        fixture.Smtp.To(unknown).Should().BeEmpty();
    }
}
