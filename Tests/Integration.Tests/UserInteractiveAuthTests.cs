using System.Text.Json.Nodes;
using Homeserver.ApiHost.Admin;
using Homeserver.ApiHost.Auth;
using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>
/// The spec's "User-interactive API": completed stages are not retried, so resubmitting a completed
/// session gets the operation's result again; a session belongs to the operation and body that
/// started it; Synapse's answers where the spec is silent (403 for another user's password, a
/// remembered body, lower-cased shared-secret usernames).
/// </summary>
public sealed class UserInteractiveAuthTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private const string Register = "/_matrix/client/v3/register";

    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    private static JsonObject Dummy(string session) => new() { ["type"] = "m.login.dummy", ["session"] = session };

    private static JsonObject PasswordAuth(string session, string user, string password) => new()
    {
        ["type"] = "m.login.password",
        ["session"] = session,
        ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = user },
        ["password"] = password,
    };

    private static async Task<string> StartAsync(MatrixClient client, string path, JsonObject body, HttpMethod? method = null)
    {
        var (status, challenge) = method is null ? await client.PostAsync(path, body) : await client.SendAsync(method, path, body.ToJsonString());
        status.Should().Be(401, challenge.ToJsonString());
        return challenge["session"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_completed_registration_resubmitted_answers_the_same_user_with_a_new_login()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        var body = new JsonObject { ["username"] = name, ["password"] = "pw-1" };
        var session = await StartAsync(client, Register, body);
        body["auth"] = Dummy(session);
        var (first, registered) = await client.PostAsync(Register, body.DeepClone().AsObject());
        first.Should().Be(200, registered.ToJsonString());

        var (again, resubmitted) = await client.PostAsync(Register, body.DeepClone().AsObject());
        again.Should().Be(200, "a completed session gets the operation's result, not M_USER_IN_USE: " + resubmitted.ToJsonString());
        resubmitted["user_id"]!.GetValue<string>().Should().Be(registered["user_id"]!.GetValue<string>());
        resubmitted["access_token"]!.GetValue<string>().Should().NotBe(registered["access_token"]!.GetValue<string>());
        foreach (var token in new[] { registered["access_token"]!, resubmitted["access_token"]! })
        {
            client.AccessToken = token.GetValue<string>();
            (await client.GetAsync("/_matrix/client/v3/account/whoami")).Body["user_id"]!.GetValue<string>().Should().Be($"@{name}:test.local");
        }
    }

    [Fact]
    public async Task A_registration_without_a_username_resubmitted_keeps_its_generated_user()
    {
        using var client = NewClient();
        var session = await StartAsync(client, Register, new JsonObject { ["password"] = "pw-2" });
        var body = new JsonObject { ["password"] = "pw-2", ["auth"] = Dummy(session) };
        var (_, first) = await client.PostAsync(Register, body.DeepClone().AsObject());
        var (status, second) = await client.PostAsync(Register, body.DeepClone().AsObject());
        status.Should().Be(200, second.ToJsonString());
        second["user_id"]!.GetValue<string>().Should().Be(first["user_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_session_continued_with_only_auth_registers_with_the_parameters_it_started_with()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        var session = await StartAsync(client, Register, new JsonObject
        {
            ["username"] = name, ["password"] = "remembered pw", ["initial_device_display_name"] = "remembered device",
        });
        var (status, registered) = await client.PostAsync(Register, new JsonObject { ["auth"] = Dummy(session) });
        status.Should().Be(200, registered.ToJsonString());
        registered["user_id"]!.GetValue<string>().Should().Be($"@{name}:test.local");

        client.AccessToken = registered["access_token"]!.GetValue<string>();
        var device = await client.GetAsync($"/_matrix/client/v3/devices/{registered["device_id"]!.GetValue<string>()}");
        device.Body["display_name"]!.GetValue<string>().Should().Be("remembered device");
        using var other = NewClient();
        await other.LoginAsync(name, "remembered pw");
    }

    [Fact]
    public async Task The_session_stores_a_hash_of_the_password_never_the_password()
    {
        using var client = NewClient();
        var session = await StartAsync(client, Register, new JsonObject { ["username"] = MatrixClient.NewUserName(), ["password"] = "plain-text-secret-123" });
        await using var connection = new NpgsqlConnection(fixture.Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT request_body || ' ' || coalesce(password_hash, '') FROM uia_sessions WHERE session_id = $1", connection);
        command.Parameters.Add(new() { Value = session });
        var stored = (string)(await command.ExecuteScalarAsync())!;
        stored.Should().NotContain("plain-text-secret-123").And.Contain("$2b$");
    }

    [Fact]
    public async Task A_session_is_bound_to_the_body_and_the_operation_that_started_it()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        var session = await StartAsync(client, Register, new JsonObject { ["username"] = name, ["password"] = "pw" });

        var (otherName, otherNameBody) = await client.PostAsync(Register, new JsonObject
        {
            ["username"] = MatrixClient.NewUserName(), ["password"] = "pw", ["auth"] = Dummy(session),
        });
        (otherName, otherNameBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        var (otherPassword, _) = await client.PostAsync(Register, new JsonObject
        {
            ["username"] = name, ["password"] = "another pw", ["auth"] = Dummy(session),
        });
        otherPassword.Should().Be(403, "the password is part of the body, compared by its hash");

        // The registration session used to delete a device: another operation.
        using var user = NewClient();
        await user.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var (otherOperation, otherOperationBody) = await user.PostAsync("/_matrix/client/v3/delete_devices", new JsonObject
        {
            ["devices"] = new JsonArray(user.DeviceId), ["auth"] = PasswordAuth(session, user.UserId!, "pw"),
        });
        (otherOperation, otherOperationBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));

        // The original request still completes.
        var (ok, registered) = await client.PostAsync(Register, new JsonObject { ["username"] = name, ["password"] = "pw", ["auth"] = Dummy(session) });
        ok.Should().Be(200, registered.ToJsonString());
    }

    [Fact]
    public async Task A_session_started_for_one_device_cannot_delete_another()
    {
        using var user = NewClient();
        var name = MatrixClient.NewUserName();
        await user.RegisterAsync(name, "pw");
        using var second = NewClient();
        await second.LoginAsync(name, "pw");
        using var third = NewClient();
        await third.LoginAsync(name, "pw");

        var session = await StartAsync(user, $"/_matrix/client/v3/devices/{second.DeviceId}", new JsonObject(), HttpMethod.Delete);
        var (other, _) = await user.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/devices/{third.DeviceId}",
            new JsonObject { ["auth"] = PasswordAuth(session, name, "pw") }.ToJsonString());
        other.Should().Be(403);
        (await third.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200);

        var (ok, _) = await user.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/devices/{second.DeviceId}",
            new JsonObject { ["auth"] = PasswordAuth(session, name, "pw") }.ToJsonString());
        ok.Should().Be(200);
        (await second.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401);
    }

    [Fact]
    public async Task Another_users_password_is_403_and_a_wrong_password_is_a_401_that_lists_what_is_completed()
    {
        using var user = NewClient();
        await user.RegisterAsync(MatrixClient.NewUserName(), "mine");
        using var other = NewClient();
        var otherName = MatrixClient.NewUserName();
        await other.RegisterAsync(otherName, "theirs");
        using var spare = NewClient();
        await spare.LoginAsync(user.UserId!, "mine");
        var path = "/_matrix/client/v3/delete_devices";
        var body = new JsonObject { ["devices"] = new JsonArray(spare.DeviceId) };

        var session = await StartAsync(user, path, body.DeepClone().AsObject());
        var wrong = body.DeepClone().AsObject();
        wrong["auth"] = PasswordAuth(session, user.UserId!, "not mine");
        var (wrongStatus, wrongBody) = await user.PostAsync(path, wrong);
        (wrongStatus, wrongBody["errcode"]!.GetValue<string>()).Should().Be((401, "M_FORBIDDEN"));
        wrongBody["completed"]!.AsArray().Should().BeEmpty();
        wrongBody["flows"]![0]!["stages"]![0]!.GetValue<string>().Should().Be("m.login.password");

        var theirs = body.DeepClone().AsObject();
        theirs["auth"] = PasswordAuth(session, otherName, "theirs");
        var (theirsStatus, theirsBody) = await user.PostAsync(path, theirs);
        (theirsStatus, theirsBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        (await spare.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200, "nothing was deleted");

        var own = body.DeepClone().AsObject();
        own["auth"] = PasswordAuth(await StartAsync(user, path, body.DeepClone().AsObject()), user.UserId!, "mine");
        (await user.PostAsync(path, own)).Status.Should().Be(200);
        (await spare.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401);
    }

    [Fact]
    public async Task A_password_change_continued_with_only_auth_uses_the_new_password_it_started_with()
    {
        using var user = NewClient();
        var name = MatrixClient.NewUserName();
        await user.RegisterAsync(name, "old password");
        var path = "/_matrix/client/v3/account/password";
        var session = await StartAsync(user, path, new JsonObject { ["new_password"] = "new password", ["logout_devices"] = false });
        var (status, body) = await user.PostAsync(path, new JsonObject { ["auth"] = PasswordAuth(session, name, "old password") });
        status.Should().Be(200, body.ToJsonString());

        (await user.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200, "logout_devices false was remembered");
        using var fresh = NewClient();
        await fresh.LoginAsync(name, "new password");
    }

    [Fact]
    public async Task Inhibit_login_registers_without_a_device_or_token()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        var body = new JsonObject { ["username"] = name, ["password"] = "pw", ["inhibit_login"] = true };
        body["auth"] = Dummy(await StartAsync(client, Register, body.DeepClone().AsObject()));
        var (status, registered) = await client.PostAsync(Register, body);
        status.Should().Be(200);
        registered["user_id"]!.GetValue<string>().Should().Be($"@{name}:test.local");
        registered.ContainsKey("access_token").Should().BeFalse();
        registered.ContainsKey("device_id").Should().BeFalse();

        await client.LoginAsync(name, "pw");
        var devices = (await client.GetAsync("/_matrix/client/v3/devices")).Body["devices"]!.AsArray();
        devices.Should().ContainSingle("only the login made a device");
    }

    [Fact]
    public async Task Non_ascii_passwords_register_and_log_in_in_any_unicode_normal_form()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        await client.RegisterAsync(name, "pässwörd-密码-ﬁ");
        using var exact = NewClient();
        await exact.LoginAsync(name, "pässwörd-密码-ﬁ");
        using var decomposed = NewClient();
        await decomposed.LoginAsync(name, "pa\u0308sswo\u0308rd-密码-fi");
        using var wrong = NewClient();
        var act = () => wrong.LoginAsync(name, "passwort-密码-fi");
        await act.Should().ThrowAsync<InvalidOperationException>();
    }

    [Theory]
    // Made by Synapse's hashing (python3-bcrypt over the NFKC form's UTF-8), so accounts move between the servers.
    [InlineData("pässwörd-密码-ﬁ", "$2b$04$UF7mwbxiQ1086/1UdAbKoeO14InvNKCkJhNXXFwHCN45c7bdTbpV2")]
    [InlineData("éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", "$2b$04$6RNjCd2ZGyyyWRaNiFZkZejENmJqXptV.r7tQwe11B91.uWI.dpVC")]
    public void Password_hashes_made_by_synapse_verify(string password, string hash)
    {
        var hasher = new PasswordHasher(4);
        hasher.Verify(password, hash).Should().BeTrue();
        // bcrypt reads 72 bytes: 60 é are 120 bytes of UTF-8, so a suffix changes nothing there, as in Synapse.
        hasher.Verify(password + "x", hash).Should().Be(System.Text.Encoding.UTF8.GetByteCount(password) >= 72);
        hasher.Verify(password, hasher.Hash(password)).Should().BeTrue();
    }

    [Fact]
    public async Task Shared_secret_registration_lower_cases_the_username()
    {
        using var client = NewClient();
        var name = "Mixed" + MatrixClient.NewUserName();
        var nonce = (await client.GetAsync("/_synapse/admin/v1/register")).Body["nonce"]!.GetValue<string>();
        var (status, body) = await client.PostAsync("/_synapse/admin/v1/register", new JsonObject
        {
            ["nonce"] = nonce, ["username"] = name, ["password"] = "pw", ["admin"] = false,
            ["mac"] = SharedSecretRegistrationEndpoints.Mac("test-shared-secret", nonce, name, "pw", admin: false),
        });
        status.Should().Be(200, body.ToJsonString());
        body["user_id"]!.GetValue<string>().Should().Be($"@{name.ToLowerInvariant()}:test.local");
        using var login = NewClient();
        await login.LoginAsync(name.ToLowerInvariant(), "pw");
    }
}
