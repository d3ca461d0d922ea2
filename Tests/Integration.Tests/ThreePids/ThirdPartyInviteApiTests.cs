using System.Text.Json.Nodes;

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
        content["public_key"]!.GetValue<string>().Should().Be("serverPublicKeyBase64");
        content["key_validity_url"]!.GetValue<string>().Should().EndWith("/_matrix/identity/v2/pubkey/isvalid");
        content["public_keys"]!.AsArray().Select(k => k!["public_key"]!.GetValue<string>()).Should().Equal("serverPublicKeyBase64", "ephemeralPublicKeyBase64");
        content["public_keys"]![1]!["key_validity_url"]!.GetValue<string>().Should().EndWith("/pubkey/ephemeral/isvalid");
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
