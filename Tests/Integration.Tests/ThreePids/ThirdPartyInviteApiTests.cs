using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>
/// POST /rooms/{roomId}/invite by 3PID (third_party_membership.yaml, spec "Third-party invites"): a
/// bound address invites its Matrix user; an unbound one is stored at the identity server and becomes
/// an m.room.third_party_invite; an identity server that misbehaves gets a Matrix error and no event.
/// </summary>
public sealed class ThirdPartyInviteApiTests(ThreePidClusterFixture fixture) : IClassFixture<ThreePidClusterFixture>
{
    private FakeIdentityServer Identity => fixture.IdentityServer;

    private async Task<MatrixClient> NewUserAsync(string? displayName = null)
    {
        var client = new MatrixClient(fixture.BaseAddress);
        await client.RegisterAsync(MatrixClient.NewUserName(), "pw");
        if (displayName is not null)
        {
            (await client.PutAsync($"/_matrix/client/v3/profile/{Uri.EscapeDataString(client.UserId)}/displayname",
                new JsonObject { ["displayname"] = displayName })).Status.Should().Be(200);
        }
        return client;
    }

    private JsonObject Invite(string address, string medium = "email") => new()
    {
        ["id_server"] = Identity.ServerName,
        ["id_access_token"] = FakeIdentityServer.AccessToken,
        ["medium"] = medium,
        ["address"] = address,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_address_bound_to_a_matrix_user_invites_that_user(bool sha256)
    {
        using var alice = await NewUserAsync();
        using var bob = await NewUserAsync();
        var email = EmailFlow.NewEmail();
        Identity.Bindings[$"{email} email"] = bob.UserId;
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        Identity.OffersSha256 = sha256;
        try
        {
            var (status, body) = await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", Invite(email.ToUpperInvariant()));
            status.Should().Be(200, body.ToJsonString());
            body.Should().BeEquivalentTo(new JsonObject());
        }
        finally
        {
            Identity.OffersSha256 = true;
        }
        var (memberStatus, member) = await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.member/{Uri.EscapeDataString(bob.UserId)}");
        memberStatus.Should().Be(200, member.ToJsonString());
        member["membership"]!.GetValue<string>().Should().Be("invite");

        var lookup = Identity.CallsTo("/_matrix/identity/v2/lookup").Last();
        lookup.Authorization.Should().Be($"Bearer {FakeIdentityServer.AccessToken}");
        lookup.Body!["algorithm"]!.GetValue<string>().Should().Be(sha256 ? "sha256" : "none");
        lookup.Body["pepper"]!.GetValue<string>().Should().Be(FakeIdentityServer.Pepper);
        if (!sha256) lookup.Body["addresses"]!.AsArray().Single()!.GetValue<string>().Should().Be($"{email} email");
        Identity.CallsTo("/_matrix/identity/v2/hash_details").Last().Authorization.Should().Be($"Bearer {FakeIdentityServer.AccessToken}");
    }

    [Fact]
    public async Task An_unbound_address_is_stored_at_the_identity_server_and_becomes_third_party_invite_state()
    {
        using var alice = await NewUserAsync("Alice Example");
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["name"] = "Book club" });
        var email = EmailFlow.NewEmail();
        var (status, body) = await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", Invite(email));
        status.Should().Be(200, body.ToJsonString());

        var stored = Identity.CallsTo("/_matrix/identity/v2/store-invite").Last(c => c.Body!["address"]!.GetValue<string>() == email);
        stored.Authorization.Should().Be($"Bearer {FakeIdentityServer.AccessToken}");
        stored.Body!["medium"]!.GetValue<string>().Should().Be("email");
        stored.Body["room_id"]!.GetValue<string>().Should().Be(roomId);
        stored.Body["sender"]!.GetValue<string>().Should().Be(alice.UserId);
        stored.Body["room_name"]!.GetValue<string>().Should().Be("Book club");
        stored.Body["sender_display_name"]!.GetValue<string>().Should().Be("Alice Example");
        stored.Body["room_join_rules"]!.GetValue<string>().Should().Be("invite");

        var events = (await RoomStateAsync(alice, roomId)).Where(e => e["type"]!.GetValue<string>() == "m.room.third_party_invite").ToList();
        var thirdParty = events.Should().ContainSingle().Subject;
        thirdParty["sender"]!.GetValue<string>().Should().Be(alice.UserId);
        thirdParty["state_key"]!.GetValue<string>().Should().StartWith("tok");
        var content = thirdParty["content"]!;
        content["display_name"]!.GetValue<string>().Should().Be(email[0] + "...@e...");
        content["public_key"]!.GetValue<string>().Should().Be(Identity.ServerKey.PublicKeyBase64);
        content["key_validity_url"]!.GetValue<string>().Should().EndWith("/_matrix/identity/v2/pubkey/isvalid");
        content["public_keys"]!.AsArray().Select(k => k!["public_key"]!.GetValue<string>()).Should().Equal(Identity.ServerKey.PublicKeyBase64, Identity.EphemeralKey.PublicKeyBase64);
        content["public_keys"]![1]!["key_validity_url"]!.GetValue<string>().Should().EndWith("/pubkey/ephemeral/isvalid");
    }

    /// <summary>Alice's third-party invite of a fresh address in a fresh room: the room, the address and the invite the identity server stored.</summary>
    private async Task<(MatrixClient Alice, string RoomId, string Email, StoredThirdPartyInvite Stored)> ThirdPartyInvitedAsync()
    {
        var alice = await NewUserAsync("Alice Example");
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        var email = EmailFlow.NewEmail();
        (await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", Invite(email))).Status.Should().Be(200);
        return (alice, roomId, email, Identity.StoredInvites.Single(i => i.Address == email));
    }

    private async Task<(int Status, string? ErrCode)> BindAsync(MatrixClient client, string email)
    {
        var (secret, sid) = (EmailFlow.NewSecret(), "is" + Guid.NewGuid().ToString("N"));
        Identity.Sessions[sid] = (secret, "email", email);
        Identity.OnBindHomeserver = fixture.BaseAddress;
        var before = Identity.OnBindAnswers.Count;
        (await client.PostAsync("/_matrix/client/v3/account/3pid/bind", new JsonObject
        {
            ["sid"] = sid, ["client_secret"] = secret, ["id_server"] = Identity.ServerName, ["id_access_token"] = FakeIdentityServer.AccessToken,
        })).Status.Should().Be(200);
        Identity.OnBindAnswers.Should().HaveCount(before + 1, "the identity server told the homeserver of the binding");
        var (status, body) = Identity.OnBindAnswers.Last();
        return (status, JsonNode.Parse(body)?["errcode"]?.GetValue<string>());
    }

    [Fact]
    public async Task Binding_an_invited_address_turns_the_third_party_invite_into_an_invite_from_its_sender()
    {
        var (alice, roomId, email, stored) = await ThirdPartyInvitedAsync();
        using var _ = alice;
        using var bob = await NewUserAsync();
        (await BindAsync(bob, email)).Should().Be((200, (string?)null));

        var member = (await RoomStateAsync(alice, roomId)).Single(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == bob.UserId);
        member["sender"]!.GetValue<string>().Should().Be(alice.UserId, "the invite is the third-party invite's sender's");
        member["content"]!["membership"]!.GetValue<string>().Should().Be("invite");
        var thirdParty = member["content"]!["third_party_invite"]!;
        thirdParty["display_name"]!.GetValue<string>().Should().Be(email[0] + "...@e...", "the display name the third-party invite showed");
        thirdParty["signed"]!["mxid"]!.GetValue<string>().Should().Be(bob.UserId);
        thirdParty["signed"]!["token"]!.GetValue<string>().Should().Be(stored.Token);
        thirdParty["signed"]!["signatures"]![Identity.ServerName].Should().NotBeNull();
        Identity.CallsTo("/_matrix/identity/v2/pubkey/isvalid").Should().NotBeEmpty("the signing key's validity was checked");

        await bob.JoinAsync(roomId);
    }

    [Fact]
    public async Task A_revoked_identity_server_key_redeems_nothing()
    {
        var (alice, roomId, email, _) = await ThirdPartyInvitedAsync();
        using var __ = alice;
        using var bob = await NewUserAsync();
        Identity.RevokedKeys[Identity.ServerKey.PublicKeyBase64] = true;
        try
        {
            (await BindAsync(bob, email)).Should().Be((403, "M_FORBIDDEN"));
        }
        finally
        {
            Identity.RevokedKeys.Clear();
        }
        (await RoomStateAsync(alice, roomId)).Should().NotContain(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == bob.UserId);
    }

    [Fact]
    public async Task Onbind_refuses_malformed_forged_and_foreign_invites_with_matrix_errors_and_no_event()
    {
        var (alice, roomId, email, stored) = await ThirdPartyInvitedAsync();
        using var _ = alice;
        using var bob = await NewUserAsync();
        using var anonymous = new MatrixClient(fixture.BaseAddress);
        JsonObject Body(JsonObject invite) => new() { ["medium"] = "email", ["address"] = email, ["mxid"] = bob.UserId, ["invites"] = new JsonArray(invite) };
        JsonObject InviteWith(JsonObject signed, string? room = null) => new()
        {
            ["medium"] = "email", ["address"] = email, ["mxid"] = bob.UserId, ["room_id"] = room ?? roomId, ["sender"] = alice.UserId, ["signed"] = signed,
        };
        async Task<(int, string?)> OnBindAsync(JsonNode body)
        {
            var (status, answer) = await anonymous.SendAsync(HttpMethod.Post, "/_matrix/federation/v1/3pid/onbind", body.ToJsonString());
            return (status, answer["errcode"]?.GetValue<string>());
        }

        (await OnBindAsync(new JsonObject { ["medium"] = "email", ["address"] = email, ["mxid"] = bob.UserId })).Should().Be((400, "M_BAD_JSON"));
        (await OnBindAsync(new JsonObject { ["medium"] = "email", ["address"] = email, ["mxid"] = "bob", ["invites"] = new JsonArray() }))
            .Should().Be((400, "M_INVALID_PARAM"));
        (await OnBindAsync(Body(InviteWith(new JsonObject { ["mxid"] = bob.UserId })))).Should().Be((400, "M_BAD_JSON"), "no token to redeem");
        var tooMany = new JsonArray(Enumerable.Range(0, 101).Select(_ => (JsonNode)InviteWith(Identity.Signed(bob.UserId, stored))).ToArray());
        (await OnBindAsync(new JsonObject { ["medium"] = "email", ["address"] = email, ["mxid"] = bob.UserId, ["invites"] = tooMany }))
            .Should().Be((400, "M_INVALID_PARAM"));

        var forged = Identity.Signed(bob.UserId, stored);
        forged["mxid"] = "@mallory:test.local";
        (await OnBindAsync(Body(InviteWith(forged)))).Should().Be((403, "M_FORBIDDEN"), "the signature no longer covers the block");
        var otherKey = SigningKey.Generate();
        var selfSigned = new JsonObject { ["mxid"] = bob.UserId, ["sender"] = alice.UserId, ["token"] = stored.Token };
        JsonSigning.Sign(selfSigned, "evil.example", otherKey);
        (await OnBindAsync(Body(InviteWith(selfSigned)))).Should().Be((403, "M_FORBIDDEN"), "signed by a key the invite did not publish");
        var unknownToken = new JsonObject { ["mxid"] = bob.UserId, ["token"] = "no-such-token" };
        JsonSigning.Sign(unknownToken, Identity.ServerName, Identity.ServerKey);
        (await OnBindAsync(Body(InviteWith(unknownToken)))).Should().Be((403, "M_FORBIDDEN"), "no third-party invite has that token");
        (await OnBindAsync(Body(InviteWith(Identity.Signed(bob.UserId, stored), "!elsewhere:other.example")))).Should().Be((400, "M_UNKNOWN"),
            "a room on another server needs the exchange through federation");

        (await RoomStateAsync(alice, roomId)).Should().NotContain(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == bob.UserId);
        (await OnBindAsync(Body(InviteWith(Identity.Signed(bob.UserId, stored))))).Should().Be((200, (string?)null), "the genuine invite still works");
    }

    private static async Task<IReadOnlyList<JsonNode>> RoomStateAsync(MatrixClient client, string roomId)
    {
        var (status, body) = await client.SendAsync(HttpMethod.Get, $"/_matrix/client/v3/rooms/{roomId}/state", null);
        status.Should().Be(200);
        return body["_raw"] is { } raw ? JsonNode.Parse(raw.GetValue<string>())!.AsArray().Select(e => e!).ToList() : [];
    }

    [Theory]
    [InlineData("id_access_token", "M_MISSING_PARAM")]
    [InlineData("id_server", "M_MISSING_PARAM")]
    public async Task Both_identity_server_fields_are_required(string left, string errCode)
    {
        using var alice = await NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        var body = Invite(EmailFlow.NewEmail());
        body.Remove(left);
        var (status, answer) = await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", body);
        (status, answer["errcode"]!.GetValue<string>()).Should().Be((400, errCode));
    }

    [Theory]
    [InlineData("{\"id_server\":\"bad/server\",\"id_access_token\":\"t\",\"medium\":\"email\",\"address\":\"a@example.org\"}", "M_INVALID_PARAM")]
    [InlineData("{\"id_server\":\"id.example.org\",\"id_access_token\":\"t\",\"medium\":\"email\",\"address\":\"not-an-email\"}", "M_INVALID_PARAM")]
    [InlineData("{\"id_server\":\"id.example.org\",\"id_access_token\":7,\"medium\":\"email\",\"address\":\"a@example.org\"}", "M_BAD_JSON")]
    [InlineData("{\"id_server\":\"id.example.org\",\"id_access_token\":\"t\",\"medium\":null,\"address\":\"a@example.org\"}", "M_MISSING_PARAM")]
    public async Task Bad_fields_get_matrix_errors(string body, string errCode)
    {
        using var alice = await NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        var (status, answer) = await alice.SendAsync(HttpMethod.Post, $"/_matrix/client/v3/rooms/{roomId}/invite", body);
        (status, answer["errcode"]?.GetValue<string>()).Should().Be((400, errCode), answer.ToJsonString());
    }

    [Fact]
    public async Task Only_a_member_who_may_invite_reaches_the_identity_server()
    {
        using var alice = await NewUserAsync();
        using var mallory = await NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        var email = EmailFlow.NewEmail();
        var (outsider, outsiderBody) = await mallory.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", Invite(email));
        (outsider, outsiderBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));

        await mallory.JoinAsync(roomId);
        var levels = (await alice.GetAsync($"/_matrix/client/v3/rooms/{roomId}/state/m.room.power_levels")).Body;
        levels["invite"] = 50;
        await alice.SetStateAsync(roomId, "m.room.power_levels", levels);
        var (member, memberBody) = await mallory.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", Invite(email));
        (member, memberBody["errcode"]!.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        Identity.Calls.Should().NotContain(c => c.Body != null && c.Body["address"] != null && c.Body["address"]!.GetValue<string>() == email,
            "the identity server mails the address, so a refused invite must not get that far");
    }

    [Theory]
    [InlineData(IdentityServerBehaviour.Huge)]
    [InlineData(IdentityServerBehaviour.NotAnObject)]
    [InlineData(IdentityServerBehaviour.Broken)]
    public async Task A_hostile_identity_server_gets_a_matrix_error_and_no_event(IdentityServerBehaviour behaviour)
    {
        using var alice = await NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        Identity.Behaviour = behaviour;
        try
        {
            var (status, body) = await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", Invite(EmailFlow.NewEmail()));
            (status, body["errcode"]!.GetValue<string>()).Should().Be((502, "M_UNKNOWN"), body.ToJsonString());
        }
        finally
        {
            Identity.Behaviour = IdentityServerBehaviour.Honest;
        }
        (await RoomStateAsync(alice, roomId)).Should().NotContain(e => e["type"]!.GetValue<string>() == "m.room.third_party_invite");
    }

    [Fact]
    public async Task An_unreachable_identity_server_is_a_bad_gateway()
    {
        using var alice = await NewUserAsync();
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        var body = Invite(EmailFlow.NewEmail());
        body["id_server"] = $"127.0.0.1:{LoopbackPorts.Free()}";
        var (status, answer) = await alice.PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", body);
        (status, answer["errcode"]!.GetValue<string>()).Should().Be((502, "M_UNKNOWN"));
    }
}
