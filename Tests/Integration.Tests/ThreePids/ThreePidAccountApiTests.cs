using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Homeserver.Protocol;
using Npgsql;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>
/// The account's 3PIDs (administrative_contact.yaml): GET /account/3pid, /3pid/add behind the password
/// stage, the deprecated POST /account/3pid, /3pid/delete, /3pid/bind and /3pid/unbind at an identity
/// server; and what a 3PID on an account is for: logging in by it (login.yaml m.id.thirdparty), the
/// password stage naming it, resetting a password by email, registering with the email stage.
/// </summary>
public sealed partial class ThreePidAccountApiTests(ThreePidClusterFixture fixture) : IClassFixture<ThreePidClusterFixture>
{
    private const string Password = "pw";

    private async Task<MatrixClient> NewUserAsync()
    {
        var client = new MatrixClient(fixture.BaseAddress);
        await client.RegisterAsync(MatrixClient.NewUserName(), Password);
        return client;
    }

    private async Task<string> AddEmailAsync(MatrixClient client)
    {
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        await EmailFlow.AddAsync(client, await EmailFlow.ValidateAsync(fixture, client, email, secret), secret, Password);
        return email;
    }

    private static async Task<JsonArray> ThreePidsAsync(MatrixClient client)
    {
        var (status, body) = await client.GetAsync("/_matrix/client/v3/account/3pid");
        status.Should().Be(200, body.ToJsonString());
        return body["threepids"]!.AsArray();
    }

    [Fact]
    public async Task An_added_email_is_listed_with_its_validation_and_addition_times()
    {
        using var alice = await NewUserAsync();
        (await ThreePidsAsync(alice)).Should().BeEmpty();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var sid = await EmailFlow.ValidateAsync(fixture, alice, email, secret);

        var (challenged, challenge) = await alice.PostAsync("/_matrix/client/v3/account/3pid/add", new JsonObject { ["sid"] = sid, ["client_secret"] = secret });
        challenged.Should().Be(401);
        challenge["flows"]![0]!["stages"]!.AsArray().Select(s => s!.GetValue<string>()).Should().Equal("m.login.password");
        challenge["session"]!.GetValue<string>().Should().NotBeEmpty();
        await EmailFlow.AddAsync(alice, sid, secret, Password);

        var listed = (await ThreePidsAsync(alice)).Should().ContainSingle().Subject!.AsObject();
        listed["medium"]!.GetValue<string>().Should().Be("email");
        listed["address"]!.GetValue<string>().Should().Be(email);
        var validatedAt = listed["validated_at"]!.GetValue<long>();
        var addedAt = listed["added_at"]!.GetValue<long>();
        validatedAt.Should().BeGreaterThanOrEqualTo(before);
        addedAt.Should().BeGreaterThanOrEqualTo(validatedAt).And.BeLessThanOrEqualTo(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        using var anonymous = new MatrixClient(fixture.BaseAddress);
        (await anonymous.GetAsync("/_matrix/client/v3/account/3pid")).Status.Should().Be(401);
    }

    [Fact]
    public async Task Adding_needs_a_validated_session_of_ones_own_that_no_other_account_used()
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var unvalidated = (await alice.PostAsync(EmailFlow.AddPath, EmailFlow.Request(email, secret))).Body["sid"]!.GetValue<string>();
        await FailAddAsync(alice, unvalidated, secret, "M_THREEPID_AUTH_FAILED");

        // The same client_secret again sends no mail at the same send_attempt (spec), so the next attempt asks for one.
        var sid = await EmailFlow.ValidateAsync(fixture, alice, email, secret, submitPath: EmailFlow.AddSubmitPath, attempt: 2);
        await FailAddAsync(alice, sid, EmailFlow.NewSecret(), "M_THREEPID_AUTH_FAILED");
        // Bob validates the same address in a session of his own, but Alice adds it first.
        var bobSecret = EmailFlow.NewSecret();
        var bobSid = await EmailFlow.ValidateAsync(fixture, bob, email, bobSecret);
        await EmailFlow.AddAsync(alice, sid, secret, Password);
        await FailAddAsync(bob, bobSid, bobSecret, "M_THREEPID_IN_USE");
        await FailAddAsync(alice, sid, secret, "M_THREEPID_AUTH_FAILED", "a session proves once");
    }

    private static async Task FailAddAsync(MatrixClient client, string sid, string secret, string errCode, string because = "")
    {
        var challenge = (await client.PostAsync("/_matrix/client/v3/account/3pid/add", new JsonObject { ["sid"] = sid, ["client_secret"] = secret })).Body;
        var (status, body) = await client.PostAsync("/_matrix/client/v3/account/3pid/add", new JsonObject
        {
            ["sid"] = sid,
            ["client_secret"] = secret,
            ["auth"] = new JsonObject { ["type"] = "m.login.password", ["session"] = challenge["session"]!.GetValue<string>(), ["password"] = Password },
        });
        (status, body["errcode"]?.GetValue<string>()).Should().Be((400, errCode), because + body.ToJsonString());
    }

    [Theory]
    [InlineData("{\"client_secret\":\"s\"}", "M_MISSING_PARAM")]
    [InlineData("{\"sid\":\"s\"}", "M_MISSING_PARAM")]
    [InlineData("{\"sid\":\"s\",\"client_secret\":\"no spaces\"}", "M_INVALID_PARAM")]
    [InlineData("{\"sid\":\"s\",\"client_secret\":1}", "M_BAD_JSON")]
    public async Task Add_checks_its_fields_before_asking_for_authentication(string body, string errCode)
    {
        using var alice = await NewUserAsync();
        var (status, answer) = await alice.SendAsync(HttpMethod.Post, "/_matrix/client/v3/account/3pid/add", body);
        (status, answer["errcode"]?.GetValue<string>()).Should().Be((400, errCode));
    }

    [Fact]
    public async Task The_deprecated_post_adds_a_validated_session_given_as_three_pid_creds()
    {
        using var alice = await NewUserAsync();
        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var sid = await EmailFlow.ValidateAsync(fixture, alice, email, secret);
        var (missing, missingBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid", new JsonObject());
        (missing, missingBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_MISSING_PARAM"));
        var (wrong, wrongBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid", new JsonObject
        {
            ["three_pid_creds"] = new JsonObject { ["sid"] = sid, ["client_secret"] = EmailFlow.NewSecret(), ["id_server"] = "id.example.org", ["id_access_token"] = "t" },
        });
        (wrong, wrongBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_THREEPID_AUTH_FAILED"));
        var (status, body) = await alice.PostAsync("/_matrix/client/v3/account/3pid", new JsonObject
        {
            ["three_pid_creds"] = new JsonObject { ["sid"] = sid, ["client_secret"] = secret, ["id_server"] = "id.example.org", ["id_access_token"] = "t" },
        });
        status.Should().Be(200, body.ToJsonString());
        (await ThreePidsAsync(alice)).Select(t => t!["address"]!.GetValue<string>()).Should().Equal(email);
    }

    [Fact]
    public async Task Delete_removes_the_3pid_and_says_no_support_when_it_was_bound_nowhere()
    {
        using var alice = await NewUserAsync();
        var email = await AddEmailAsync(alice);
        var (status, body) = await alice.PostAsync("/_matrix/client/v3/account/3pid/delete", new JsonObject { ["medium"] = "email", ["address"] = email.ToUpperInvariant() });
        status.Should().Be(200, body.ToJsonString());
        body["id_server_unbind_result"]!.GetValue<string>().Should().Be("no-support");
        (await ThreePidsAsync(alice)).Should().BeEmpty();

        // Free again: another account may validate and add it.
        using var bob = await NewUserAsync();
        var secret = EmailFlow.NewSecret();
        await EmailFlow.AddAsync(bob, await EmailFlow.ValidateAsync(fixture, bob, email, secret), secret, Password);
    }

    [Theory]
    [InlineData("/_matrix/client/v3/account/3pid/delete", "{\"address\":\"a@example.org\"}", "M_MISSING_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/delete", "{\"medium\":\"email\"}", "M_MISSING_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/delete", "{\"medium\":\"fax\",\"address\":\"1\"}", "M_INVALID_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/unbind", "{\"medium\":\"carrier-pigeon\",\"address\":\"1\"}", "M_INVALID_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/unbind", "{\"medium\":\"email\",\"address\":\"a@example.org\",\"id_server\":\"bad/server\"}", "M_INVALID_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/bind", "{\"sid\":\"s\",\"client_secret\":\"c\",\"id_server\":\"id.example.org\"}", "M_MISSING_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/bind", "{\"sid\":\"s\",\"client_secret\":\"c\",\"id_access_token\":\"t\"}", "M_MISSING_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/bind", "{\"client_secret\":\"c\",\"id_server\":\"id.example.org\",\"id_access_token\":\"t\"}", "M_MISSING_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/bind", "{\"sid\":\"s\",\"id_server\":\"id.example.org\",\"id_access_token\":\"t\"}", "M_MISSING_PARAM")]
    [InlineData("/_matrix/client/v3/account/3pid/bind", "{\"sid\":\"s\",\"client_secret\":\"c\",\"id_server\":\"not a host\",\"id_access_token\":\"t\"}", "M_INVALID_PARAM")]
    public async Task Bad_bodies_get_matrix_errors(string path, string body, string errCode)
    {
        using var alice = await NewUserAsync();
        var (status, answer) = await alice.SendAsync(HttpMethod.Post, path, body);
        (status, answer["errcode"]?.GetValue<string>()).Should().Be((400, errCode), answer.ToJsonString());
        using var anonymous = new MatrixClient(fixture.BaseAddress);
        (await anonymous.SendAsync(HttpMethod.Post, path, body)).Status.Should().Be(401);
    }

    [Fact]
    public async Task Bind_proxies_to_the_identity_server_and_unbind_goes_where_it_was_bound_signed_by_the_server()
    {
        using var alice = await NewUserAsync();
        var identity = fixture.IdentityServer;
        var (email, secret, sid) = (EmailFlow.NewEmail(), EmailFlow.NewSecret(), "is" + Guid.NewGuid().ToString("N"));
        identity.Sessions[sid] = (secret, "email", email);
        var (status, body) = await alice.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = sid, ["client_secret"] = secret, ["id_server"] = identity.ServerName, ["id_access_token"] = FakeIdentityServer.AccessToken,
        });
        status.Should().Be(200, body.ToJsonString());
        body.Should().BeEquivalentTo(new JsonObject());
        var bind = identity.CallsTo("/_matrix/identity/v2/3pid/bind").Last(c => c.Body!["sid"]!.GetValue<string>() == sid);
        bind.Authorization.Should().Be($"Bearer {FakeIdentityServer.AccessToken}");
        bind.Body!["mxid"]!.GetValue<string>().Should().Be(alice.UserId);
        bind.Body["client_secret"]!.GetValue<string>().Should().Be(secret);

        var (unbound, unbindBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid/unbind", new JsonObject { ["medium"] = "email", ["address"] = email });
        unbound.Should().Be(200, unbindBody.ToJsonString());
        unbindBody["id_server_unbind_result"]!.GetValue<string>().Should().Be("success", "the server remembered where the 3PID was bound");
        var unbind = identity.CallsTo("/_matrix/identity/v2/3pid/unbind").Last(c => c.Body!["mxid"]!.GetValue<string>() == alice.UserId);
        unbind.Body!["threepid"]!.ToJsonString().Should().Be(new JsonObject { ["medium"] = "email", ["address"] = email }.ToJsonString());
        await VerifySignatureAsync(unbind, identity.ServerName);

        var (again, againBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid/unbind", new JsonObject { ["medium"] = "email", ["address"] = email });
        (again, againBody["id_server_unbind_result"]!.GetValue<string>()).Should().Be((200, "no-support"), "it is bound nowhere now");
    }

    [Fact]
    public async Task Deactivation_unbinds_bound_3pids_at_their_identity_server_and_frees_the_accounts_3pids()
    {
        using var alice = await NewUserAsync();
        var identity = fixture.IdentityServer;
        var onAccount = await AddEmailAsync(alice);
        var (bound, secret, sid) = (EmailFlow.NewEmail(), EmailFlow.NewSecret(), "is" + Guid.NewGuid().ToString("N"));
        identity.Sessions[sid] = (secret, "email", bound);
        (await alice.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = sid, ["client_secret"] = secret, ["id_server"] = identity.ServerName, ["id_access_token"] = FakeIdentityServer.AccessToken,
        })).Status.Should().Be(200);

        // A malformed id_server is refused before authentication.
        (await alice.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["id_server"] = "not a host" })).Status.Should().Be(400);
        var (status, body) = await alice.PostAsync("/_matrix/client/v3/account/deactivate",
            new JsonObject { ["auth"] = MatrixClient.PasswordAuth(alice.UserId, Password, null) });
        status.Should().Be(200, body.ToJsonString());
        body["id_server_unbind_result"]!.GetValue<string>().Should().Be("success", "the one bound 3PID was unbound where it was bound");
        var unbind = identity.CallsTo("/_matrix/identity/v2/3pid/unbind").Last(c => c.Body!["mxid"]!.GetValue<string>() == alice.UserId);
        unbind.Body!["threepid"]!["address"]!.GetValue<string>().Should().Be(bound);
        await VerifySignatureAsync(unbind, identity.ServerName);

        // The account's email is free again: another account may validate and add it.
        using var bob = await NewUserAsync();
        var bobSecret = EmailFlow.NewSecret();
        await EmailFlow.AddAsync(bob, await EmailFlow.ValidateAsync(fixture, bob, onAccount, bobSecret), bobSecret, Password);
        (await ThreePidsAsync(bob)).Select(t => t!["address"]!.GetValue<string>()).Should().Equal(onAccount);
    }

    /// <summary>The X-Matrix header signs {method, uri, origin, destination_is, content} with the server's key, as Synapse signs it.</summary>
    private async Task VerifySignatureAsync(IdentityServerCall call, string idServer)
    {
        var header = call.Authorization!;
        header.Should().StartWith("X-Matrix ");
        var fields = XMatrixField().Matches(header).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        fields["origin"].Should().Be("test.local");
        await using var dataSource = NpgsqlDataSource.Create(fixture.Cluster.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT seed FROM server_signing_keys WHERE server_name = 'test.local'");
        var key = SigningKey.ParseSynapseFormat((string)(await command.ExecuteScalarAsync())!);
        fields["key"].Should().Be(key.KeyId);
        var signed = new JsonObject
        {
            ["method"] = "POST", ["uri"] = call.Path, ["origin"] = "test.local", ["destination_is"] = idServer, ["content"] = call.Body!.DeepClone(),
        };
        SigningKey.Verify(CanonicalJson.Encode(signed), UnpaddedBase64.Decode(fields["sig"]), key.PublicKey).Should().BeTrue();
    }

    [Fact]
    public async Task Identity_server_errors_are_passed_on_and_unsupported_unbinds_say_no_support()
    {
        using var alice = await NewUserAsync();
        var identity = fixture.IdentityServer;
        var (status, body) = await alice.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = "unknown", ["client_secret"] = "c", ["id_server"] = identity.ServerName, ["id_access_token"] = FakeIdentityServer.AccessToken,
        });
        (status, body["errcode"]!.GetValue<string>()).Should().Be((400, "M_NO_VALID_SESSION"), "the identity server's error, as the spec asks");
        var (refused, refusedBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = "unknown", ["client_secret"] = "c", ["id_server"] = identity.ServerName, ["id_access_token"] = "wrong",
        });
        (refused, refusedBody["errcode"]!.GetValue<string>()).Should().Be((401, "M_UNAUTHORIZED"));

        identity.UnbindStatus = 404;
        try
        {
            var (unbound, unbindBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid/unbind", new JsonObject
            {
                ["medium"] = "email", ["address"] = "x@example.org", ["id_server"] = identity.ServerName,
            });
            (unbound, unbindBody["id_server_unbind_result"]!.GetValue<string>()).Should().Be((200, "no-support"));
        }
        finally
        {
            identity.UnbindStatus = 200;
        }
        var (nowhere, nowhereBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid/unbind", new JsonObject { ["medium"] = "msisdn", ["address"] = "447700900001" });
        (nowhere, nowhereBody["id_server_unbind_result"]!.GetValue<string>()).Should().Be((200, "no-support"));

        var (unreachable, unreachableBody) = await alice.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = "s", ["client_secret"] = "c", ["id_server"] = $"127.0.0.1:{LoopbackPorts.Free()}", ["id_access_token"] = "t",
        });
        (unreachable, unreachableBody["errcode"]!.GetValue<string>()).Should().Be((502, "M_UNKNOWN"));
    }

    [Fact]
    public async Task Delete_unbinds_where_the_3pid_was_bound()
    {
        using var alice = await NewUserAsync();
        var email = await AddEmailAsync(alice);
        var (secret, sid) = (EmailFlow.NewSecret(), "is" + Guid.NewGuid().ToString("N"));
        fixture.IdentityServer.Sessions[sid] = (secret, "email", email);
        (await alice.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = sid, ["client_secret"] = secret, ["id_server"] = fixture.IdentityServer.ServerName, ["id_access_token"] = FakeIdentityServer.AccessToken,
        })).Status.Should().Be(200);
        var (status, body) = await alice.PostAsync("/_matrix/client/v3/account/3pid/delete", new JsonObject { ["medium"] = "email", ["address"] = email });
        (status, body["id_server_unbind_result"]!.GetValue<string>()).Should().Be((200, "success"));
        (await ThreePidsAsync(alice)).Should().BeEmpty();
    }

    [Fact]
    public async Task A_user_logs_in_by_an_email_of_theirs_and_the_password_stage_accepts_it()
    {
        using var alice = await NewUserAsync();
        var email = await AddEmailAsync(alice);
        using var device = new MatrixClient(fixture.BaseAddress);
        var (status, body) = await device.PostAsync("/_matrix/client/v3/login", new JsonObject
        {
            ["type"] = "m.login.password",
            ["identifier"] = new JsonObject { ["type"] = "m.id.thirdparty", ["medium"] = "email", ["address"] = email.ToUpperInvariant() },
            ["password"] = Password,
        });
        status.Should().Be(200, body.ToJsonString());
        body["user_id"]!.GetValue<string>().Should().Be(alice.UserId);
        var (legacy, legacyBody) = await device.PostAsync("/_matrix/client/v3/login", new JsonObject
        {
            ["type"] = "m.login.password", ["medium"] = "email", ["address"] = email, ["password"] = Password,
        });
        (legacy, legacyBody["user_id"]?.GetValue<string>()).Should().Be((200, alice.UserId), "the deprecated top-level medium and address");

        foreach (var (address, password) in new[] { (email, "wrong"), (EmailFlow.NewEmail(), Password), ("not-an-email", Password) })
        {
            var (refused, refusedBody) = await device.PostAsync("/_matrix/client/v3/login", new JsonObject
            {
                ["type"] = "m.login.password",
                ["identifier"] = new JsonObject { ["type"] = "m.id.thirdparty", ["medium"] = "email", ["address"] = address },
                ["password"] = password,
            });
            (refused, refusedBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        }
        var (noMedium, noMediumBody) = await device.PostAsync("/_matrix/client/v3/login", new JsonObject
        {
            ["type"] = "m.login.password", ["identifier"] = new JsonObject { ["type"] = "m.id.thirdparty", ["address"] = email }, ["password"] = Password,
        });
        (noMedium, noMediumBody["errcode"]!.GetValue<string>()).Should().Be((400, "M_MISSING_PARAM"));

        // The password stage of a UIA operation names the user by the same identifier.
        var session = (await alice.PostAsync("/_matrix/client/v3/delete_devices", new JsonObject { ["devices"] = new JsonArray(device.DeviceId) })).Body["session"]!.GetValue<string>();
        var (deleted, deletedBody) = await alice.PostAsync("/_matrix/client/v3/delete_devices", new JsonObject
        {
            ["devices"] = new JsonArray(device.DeviceId),
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.password", ["session"] = session, ["password"] = Password,
                ["identifier"] = new JsonObject { ["type"] = "m.id.thirdparty", ["medium"] = "email", ["address"] = email },
            },
        });
        deleted.Should().Be(200, deletedBody.ToJsonString());
    }

    [Fact]
    public async Task A_forgotten_password_is_reset_behind_the_email_stage()
    {
        using var alice = await NewUserAsync();
        var email = await AddEmailAsync(alice);
        using var forgetful = new MatrixClient(fixture.BaseAddress);
        var secret = EmailFlow.NewSecret();
        var sid = await EmailFlow.ValidateAsync(fixture, forgetful, email, secret, EmailFlow.PasswordPath, "/_synapse/client/password_reset/email/submit_token");

        var (challenged, challenge) = await forgetful.PostAsync("/_matrix/client/v3/account/password", new JsonObject { ["new_password"] = "new-pw" });
        challenged.Should().Be(401, challenge.ToJsonString());
        challenge["flows"]![0]!["stages"]!.AsArray().Select(s => s!.GetValue<string>()).Should().Equal("m.login.email.identity");
        var session = challenge["session"]!.GetValue<string>();

        var (missing, missingBody) = await forgetful.PostAsync("/_matrix/client/v3/account/password", new JsonObject
        {
            ["auth"] = new JsonObject { ["type"] = "m.login.email.identity", ["session"] = session },
        });
        (missing, missingBody["errcode"]!.GetValue<string>()).Should().Be((401, "M_MISSING_PARAM"));
        var (unproven, unprovenBody) = await forgetful.PostAsync("/_matrix/client/v3/account/password", new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.email.identity", ["session"] = session,
                ["threepid_creds"] = new JsonObject { ["sid"] = sid, ["client_secret"] = EmailFlow.NewSecret() },
            },
        });
        (unproven, unprovenBody["errcode"]!.GetValue<string>()).Should().Be((401, "M_UNAUTHORIZED"));
        unprovenBody["session"]!.GetValue<string>().Should().Be(session);

        var (status, body) = await forgetful.PostAsync("/_matrix/client/v3/account/password", new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.email.identity", ["session"] = session,
                ["threepid_creds"] = new JsonObject { ["sid"] = sid, ["client_secret"] = secret },
            },
        });
        status.Should().Be(200, body.ToJsonString());
        (await alice.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401, "logout_devices defaults to true");
        await forgetful.LoginAsync(alice.UserId, "new-pw");
        forgetful.UserId.Should().Be(alice.UserId);
    }

    [Fact]
    public async Task Registration_offers_the_email_stage_and_the_proven_address_joins_the_new_account()
    {
        using var client = new MatrixClient(fixture.BaseAddress);
        var (challenged, challenge) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject());
        challenged.Should().Be(401);
        challenge["flows"]!.AsArray().Select(f => string.Join(",", f!["stages"]!.AsArray().Select(s => s!.GetValue<string>())))
            .Should().Equal("m.login.dummy", "m.login.email.identity");

        var (email, secret) = (EmailFlow.NewEmail(), EmailFlow.NewSecret());
        var sid = await EmailFlow.ValidateAsync(fixture, client, email, secret, EmailFlow.RegisterPath, "/_matrix/client/unstable/registration/email/submit_token");
        var username = MatrixClient.NewUserName();
        var session = (await client.PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = username, ["password"] = Password })).Body["session"]!.GetValue<string>();
        var (status, body) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = username,
            ["password"] = Password,
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.email.identity", ["session"] = session,
                ["threepid_creds"] = new JsonObject { ["sid"] = sid, ["client_secret"] = secret },
            },
        });
        status.Should().Be(200, body.ToJsonString());
        client.AccessToken = body["access_token"]!.GetValue<string>();
        (await ThreePidsAsync(client)).Select(t => t!["address"]!.GetValue<string>()).Should().Equal(email);

        // Deactivation frees the address, as Synapse does.
        var deactivate = (await client.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject())).Body["session"]!.GetValue<string>();
        (await client.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.password", ["session"] = deactivate, ["password"] = Password,
                ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = body["user_id"]!.GetValue<string>() },
            },
        })).Status.Should().Be(200);
        using var other = new MatrixClient(fixture.BaseAddress);
        (await other.PostAsync(EmailFlow.RegisterPath, EmailFlow.Request(email, EmailFlow.NewSecret()))).Status.Should().Be(200);
    }

    [Fact]
    public async Task Capabilities_say_3pid_changes_are_enabled()
    {
        using var alice = await NewUserAsync();
        var (status, body) = await alice.GetAsync("/_matrix/client/v3/capabilities");
        status.Should().Be(200);
        body["capabilities"]!["m.3pid_changes"]!["enabled"]!.GetValue<bool>().Should().BeTrue();
    }

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex XMatrixField();
}
