using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>Server ACL matching as the spec's "Server Access Control Lists" describes it.</summary>
public sealed class ServerAclTests
{
    private static JsonObject Acl(string json) => JsonNode.Parse(json)!.AsObject();

    [Theory]
    [InlineData("""{"allow": ["*"]}""", "example.org", true)]
    [InlineData("""{"allow": ["*"]}""", "example.org:8448", true)]
    [InlineData("""{"allow": ["*"], "deny": ["evil.example"]}""", "evil.example:443", false)]
    [InlineData("""{"allow": ["*"], "deny": ["*.evil.example"]}""", "a.b.evil.example", false)]
    [InlineData("""{"allow": ["*"], "deny": ["*.evil.example"]}""", "evil.example", true)]
    [InlineData("""{"allow": ["good.example"]}""", "other.example", false)]
    [InlineData("""{"allow": ["GOOD.example"]}""", "good.EXAMPLE", true)]
    [InlineData("""{"allow": ["serv?r.example"]}""", "server.example", true)]
    [InlineData("""{"allow": ["serv?r.example"]}""", "servr.example", false)]
    [InlineData("""{"deny": ["x"]}""", "example.org", false)]
    [InlineData("""{}""", "example.org", false)]
    [InlineData("""{"allow": ["*"], "allow_ip_literals": false}""", "127.0.0.1:8448", false)]
    [InlineData("""{"allow": ["*"], "allow_ip_literals": false}""", "[::1]:8448", false)]
    [InlineData("""{"allow": ["*"]}""", "[::1]:8448", true)]
    [InlineData("""{"allow": ["*"], "deny": ["[::1]"]}""", "[::1]:8448", false)]
    [InlineData("""{"allow": ["a.example", 7, null]}""", "a.example", true)]
    public void A_server_is_allowed_only_as_the_acl_says(string acl, string server, bool allowed) =>
        ServerAcl.Allows(Acl(acl), server).Should().Be(allowed);

    [Fact]
    public void A_room_without_an_acl_allows_every_server() => ServerAcl.Allows(null, "anything.example").Should().BeTrue();
}
