using System.Text.Json.Nodes;
using Homeserver.ApiHost.Admin;
using Homeserver.ApiHost.Cli;

namespace Homeserver.Tests.Integration;

public sealed class AccountApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    [Fact]
    public async Task An_empty_registration_body_gets_the_flows_and_a_continued_session_says_what_it_completed()
    {
        // Spec, POST /register: 401 with the flows; clients send {} first to learn them (Synapse answers so too).
        using var client = NewClient();
        var (status, challenge) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject());
        status.Should().Be(401, challenge.ToJsonString());
        challenge["flows"]!.AsArray().Should().NotBeEmpty();
        challenge["params"].Should().BeOfType<JsonObject>();
        var session = challenge["session"]!.GetValue<string>();

        // Continuing the session without completing a stage: still 401, and "completed" is there, empty.
        var (again, continued) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["auth"] = new JsonObject { ["session"] = session },
        });
        again.Should().Be(401);
        continued["session"]!.GetValue<string>().Should().Be(session);
        continued["completed"]!.AsArray().Should().BeEmpty();

        // Every stage done but no password to register with: the missing parameter, not a 500 or another 401.
        var (missing, missingBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["auth"] = new JsonObject { ["type"] = "m.login.dummy", ["session"] = session },
        });
        (missing, missingBody["errcode"]?.GetValue<string>()).Should().Be((400, "M_MISSING_PARAM"));
    }

    [Fact]
    public async Task Registration_uses_the_dummy_flow_and_returns_a_working_session()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        var (status, challenge) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = name, ["password"] = "pw-1" });
        status.Should().Be(401);
        challenge["flows"]![0]!["stages"]![0]!.GetValue<string>().Should().Be("m.login.dummy");
        challenge["session"]!.GetValue<string>().Should().NotBeEmpty();

        var (ok, registered) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = name, ["password"] = "pw-1", ["initial_device_display_name"] = "test device",
            ["auth"] = new JsonObject { ["type"] = "m.login.dummy", ["session"] = challenge["session"]!.GetValue<string>() },
        });
        ok.Should().Be(200);
        registered["user_id"]!.GetValue<string>().Should().Be($"@{name}:test.local");
        client.AccessToken = registered["access_token"]!.GetValue<string>();

        var (whoStatus, who) = await client.GetAsync("/_matrix/client/v3/account/whoami");
        whoStatus.Should().Be(200);
        who["user_id"]!.GetValue<string>().Should().Be($"@{name}:test.local");
        who["device_id"]!.GetValue<string>().Should().Be(registered["device_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Taken_and_invalid_usernames_are_refused_with_their_errcodes()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        await client.RegisterAsync(name, "pw");

        var (taken, takenBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = name, ["password"] = "x" });
        (taken, takenBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_USER_IN_USE"));
        var (invalid, invalidBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = "bad name!", ["password"] = "x" });
        (invalid, invalidBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_INVALID_USERNAME"));

        (await client.GetAsync($"/_matrix/client/v3/register/available?username={name}")).Status.Should().Be(400);
        var (free, freeBody) = await client.GetAsync($"/_matrix/client/v3/register/available?username={MatrixClient.NewUserName()}");
        (free, freeBody["available"]!.GetValue<bool>()).Should().Be((200, true));
    }

    [Fact]
    public async Task Login_logout_and_logout_all()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        await client.RegisterAsync(name, "correct horse");
        var flows = await client.GetAsync("/_matrix/client/v3/login");
        flows.Body["flows"]![0]!["type"]!.GetValue<string>().Should().Be("m.login.password");

        using var second = NewClient();
        var (wrong, wrongBody) = await second.PostAsync("/_matrix/client/v3/login", Password(name, "battery staple"));
        (wrong, wrongBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));

        var (ok, login) = await second.PostAsync("/_matrix/client/v3/login", Password($"@{name}:test.local", "correct horse"));
        ok.Should().Be(200);
        login["well_known"]!["m.homeserver"]!["base_url"]!.GetValue<string>().Should().Be("https://matrix.test.local");
        (await second.GetAsync("/.well-known/matrix/client")).Body["m.homeserver"]!["base_url"]!.GetValue<string>().Should().Be("https://matrix.test.local");
        second.AccessToken = login["access_token"]!.GetValue<string>();
        (await second.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200);

        // A legacy "user" field still logs in (r0 clients).
        using var legacy = NewClient();
        var (legacyStatus, _) = await legacy.PostAsync("/_matrix/client/r0/login",
            new JsonObject { ["type"] = "m.login.password", ["user"] = name, ["password"] = "correct horse" });
        legacyStatus.Should().Be(200);

        (await second.PostAsync("/_matrix/client/v3/logout", new JsonObject())).Status.Should().Be(200);
        var (gone, goneBody) = await second.GetAsync("/_matrix/client/v3/account/whoami");
        (gone, goneBody["errcode"]!.GetValue<string>(), goneBody["soft_logout"]!.GetValue<bool>()).Should().Be((401, "M_UNKNOWN_TOKEN", false));
        (await client.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200, "other sessions stay");

        (await client.PostAsync("/_matrix/client/v3/logout/all", new JsonObject())).Status.Should().Be(200);
        (await client.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401);
    }

    [Fact]
    public async Task Shared_secret_registration_checks_the_hmac_and_uses_each_nonce_once()
    {
        using var client = NewClient();
        var name = MatrixClient.NewUserName();
        var nonce = (await client.GetAsync("/_synapse/admin/v1/register")).Body["nonce"]!.GetValue<string>();

        var forged = await client.PostAsync("/_synapse/admin/v1/register", Admin(nonce, name, "pw", "wrong-secret"));
        (forged.Status, forged.Body["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));

        var fresh = (await client.GetAsync("/_synapse/admin/v1/register")).Body["nonce"]!.GetValue<string>();
        var ok = await client.PostAsync("/_synapse/admin/v1/register", Admin(fresh, name, "pw", "test-shared-secret"));
        ok.Status.Should().Be(200);
        ok.Body["user_id"]!.GetValue<string>().Should().Be($"@{name}:test.local");

        var replay = await client.PostAsync("/_synapse/admin/v1/register", Admin(fresh, MatrixClient.NewUserName(), "pw", "test-shared-secret"));
        replay.Status.Should().Be(400, "a nonce works once");
    }

    [Fact]
    public async Task The_register_new_matrix_user_command_creates_a_user_who_can_log_in()
    {
        var name = MatrixClient.NewUserName();
        var server = fixture.Cluster.ApiHosts[0].BaseAddress.ToString().TrimEnd('/');
        (await RegisterNewMatrixUserCommand.RunAsync(["-u", name, "-p", "s3cret", "-k", "test-shared-secret", server])).Should().Be(0);

        using var client = NewClient();
        (await client.PostAsync("/_matrix/client/v3/login", Password(name, "s3cret"))).Status.Should().Be(200);
    }

    [Fact]
    public async Task Capabilities_list_the_supported_room_versions()
    {
        using var client = NewClient();
        await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var versions = (await client.GetAsync("/_matrix/client/v3/capabilities")).Body["capabilities"]!["m.room_versions"]!;
        versions["default"]!.GetValue<string>().Should().Be("10");
        versions["available"]!.AsObject().Select(kv => kv.Key).Should().BeEquivalentTo(Enumerable.Range(1, 11).Select(i => i.ToString()));
    }

    [Fact]
    public async Task Requests_without_a_token_get_M_MISSING_TOKEN()
    {
        using var client = NewClient();
        var (status, body) = await client.GetAsync("/_matrix/client/v3/account/whoami");
        (status, body["errcode"]!.GetValue<string>()).Should().Be((401, "M_MISSING_TOKEN"));
    }

    private static JsonObject Password(string user, string password) => new()
    {
        ["type"] = "m.login.password",
        ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = user },
        ["password"] = password,
    };

    private static JsonObject Admin(string nonce, string user, string password, string secret) => new()
    {
        ["nonce"] = nonce,
        ["username"] = user,
        ["password"] = password,
        ["admin"] = false,
        ["mac"] = SharedSecretRegistrationEndpoints.Mac(secret, nonce, user, password, admin: false),
    };
}
