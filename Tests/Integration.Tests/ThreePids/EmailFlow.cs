using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MimeKit;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>The steps a client and its user take to validate an address: ask for a token, read the mail, submit the token.</summary>
public static partial class EmailFlow
{
    public const string AddPath = "/_matrix/client/v3/account/3pid/email/requestToken";
    public const string RegisterPath = "/_matrix/client/v3/register/email/requestToken";
    public const string PasswordPath = "/_matrix/client/v3/account/password/email/requestToken";
    public const string AddSubmitPath = "/_matrix/client/unstable/add_threepid/email/submit_token";

    public static string NewEmail(string domain = "example.org") => $"{Guid.NewGuid():N}"[..12] + "@" + domain;

    public static string NewSecret() => "secret-" + Guid.NewGuid().ToString("N");

    public static JsonObject Request(string email, string secret, int attempt = 1) =>
        new() { ["client_secret"] = secret, ["email"] = email, ["send_attempt"] = attempt };

    /// <summary>The code the mail tells the user to enter.</summary>
    public static string TokenIn(MimeMessage mail) => Code().Match(mail.TextBody ?? "").Groups[1].Value;

    /// <summary>The link the mail tells the user to open.</summary>
    public static Uri LinkIn(MimeMessage mail) => new(Link().Match(mail.TextBody ?? "").Value);

    /// <summary>Asks for a token at <paramref name="path"/> (a new mail needs a higher <paramref name="attempt"/> than the last), submits the mailed one, and returns the validated session's sid.</summary>
    public static async Task<string> ValidateAsync(ThreePidClusterFixture fixture, MatrixClient client, string email, string secret,
        string path = AddPath, string submitPath = AddSubmitPath, int attempt = 1)
    {
        var seen = fixture.Smtp.To(email).Count;
        var (status, body) = await client.PostAsync(path, Request(email, secret, attempt));
        status.Should().Be(200, body.ToJsonString());
        var sid = body["sid"]!.GetValue<string>();
        var mail = await fixture.Smtp.NextToAsync(email, seen);
        var (submitted, answer) = await client.PostAsync(submitPath, new JsonObject { ["sid"] = sid, ["client_secret"] = secret, ["token"] = TokenIn(mail) });
        (submitted, answer["success"]?.GetValue<bool>()).Should().Be((200, true), answer.ToJsonString());
        return sid;
    }

    /// <summary>POST /3pid/add through its password stage.</summary>
    internal static async Task AddAsync(MatrixClient client, string sid, string secret, string password)
    {
        var body = new JsonObject { ["sid"] = sid, ["client_secret"] = secret };
        var (challenged, challenge) = await client.PostAsync("/_matrix/client/v3/account/3pid/add", body);
        challenged.Should().Be(401, challenge.ToJsonString());
        var (status, answer) = await client.PostAsync("/_matrix/client/v3/account/3pid/add", new JsonObject
        {
            ["sid"] = sid,
            ["client_secret"] = secret,
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.password", ["session"] = challenge["session"]!.GetValue<string>(), ["password"] = password,
                ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = client.UserId },
            },
        });
        status.Should().Be(200, answer.ToJsonString());
        answer.Should().BeEquivalentTo(new JsonObject());
    }

    [GeneratedRegex(@"enter this code where you were asked for it: (\S+)")]
    private static partial Regex Code();

    [GeneratedRegex(@"https?://\S+submit_token\?\S+")]
    private static partial Regex Link();
}
