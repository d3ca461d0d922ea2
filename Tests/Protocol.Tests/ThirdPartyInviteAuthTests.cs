using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>Auth rule 6.4.1: redeeming a third-party invite with a signature from the identity server's key.</summary>
public sealed class ThirdPartyInviteAuthTests
{
    private const string Alice = "@alice:a.org";
    private const string Bob = "@bob:a.org";
    private static readonly SigningKey IdentityServerKey = SigningKey.Generate();
    private static readonly SigningKey OtherKey = SigningKey.Generate();

    private static RoomAuthState State(string inviteSender = Alice)
    {
        JsonObject E(string sender, string type, string stateKey, JsonObject content) =>
            new() { ["sender"] = sender, ["type"] = type, ["state_key"] = stateKey, ["content"] = content, ["room_id"] = "!r:a.org" };
        return new RoomAuthState(new Dictionary<(string, string), JsonObject>
        {
            [("m.room.create", "")] = E(Alice, "m.room.create", "", new JsonObject { ["creator"] = Alice }),
            [("m.room.member", Alice)] = E(Alice, "m.room.member", Alice, new JsonObject { ["membership"] = "join" }),
            [("m.room.third_party_invite", "tok")] = E(inviteSender, "m.room.third_party_invite", "tok", new JsonObject
            {
                ["display_name"] = "b…@example.com",
                ["public_keys"] = new JsonArray(new JsonObject { ["public_key"] = UnpaddedBase64.EncodeUrlSafe(IdentityServerKey.PublicKey) }),
            }),
        });
    }

    private static JsonObject Invite(string mxid, string token, SigningKey signer)
    {
        var signed = new JsonObject { ["mxid"] = mxid, ["token"] = token, ["sender"] = Alice };
        JsonSigning.Sign(signed, "id.example.com", signer);
        return new JsonObject
        {
            ["room_id"] = "!r:a.org", ["sender"] = Alice, ["type"] = "m.room.member", ["state_key"] = Bob,
            ["content"] = new JsonObject { ["membership"] = "invite", ["third_party_invite"] = new JsonObject { ["display_name"] = "b", ["signed"] = signed } },
        };
    }

    [Fact]
    public void A_correctly_signed_redemption_is_allowed() =>
        AuthRules.Check(Invite(Bob, "tok", IdentityServerKey), State(), RoomVersions.Default, 3).Allowed.Should().BeTrue();

    [Theory]
    [InlineData("wrong key", "rule 6.4.1.7")]
    [InlineData("wrong mxid", "rule 6.4.1.4")]
    [InlineData("unknown token", "rule 6.4.1.5")]
    [InlineData("someone else's invite", "rule 6.4.1.6")]
    public void Bad_redemptions_are_denied(string what, string rule)
    {
        var (evt, state) = what switch
        {
            "wrong key" => (Invite(Bob, "tok", OtherKey), State()),
            "wrong mxid" => (Invite("@carol:a.org", "tok", IdentityServerKey), State()),
            "unknown token" => (Invite(Bob, "nope", IdentityServerKey), State()),
            _ => (Invite(Bob, "tok", IdentityServerKey), State(inviteSender: "@carol:a.org")),
        };
        var result = AuthRules.Check(evt, state, RoomVersions.Default, 3);
        result.Allowed.Should().BeFalse();
        result.Reason.Should().StartWith(rule);
    }
}
