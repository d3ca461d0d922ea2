using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

public sealed class IdentifierTests
{
    [Theory]
    [InlineData("matrix.org", "matrix.org", null)]
    [InlineData("matrix.org:8888", "matrix.org", 8888)]
    [InlineData("1.2.3.4", "1.2.3.4", null)]
    [InlineData("1.2.3.4:1234", "1.2.3.4", 1234)]
    [InlineData("[1234:5678::abcd]", "[1234:5678::abcd]", null)]
    [InlineData("[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678)]
    [InlineData("[::1]:8448", "[::1]", 8448)]
    [InlineData("localhost", "localhost", null)]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example", null)]
    public void Valid_server_names(string text, string host, int? port)
    {
        var name = ServerName.Parse(text);
        name.Host.Should().Be(host);
        name.Port.Should().Be(port);
        name.ToString().Should().Be(text);
    }

    [Theory]
    [InlineData("")]
    [InlineData("matrix.org:")]
    [InlineData("matrix.org:0")]
    [InlineData("matrix.org:65536")]
    [InlineData("matrix.org:123456")]
    [InlineData("matrix.org:8a")]
    [InlineData("under_score.org")]
    [InlineData("[1234:5678::abcd")]
    [InlineData("[not:an:ip:zz]")]
    [InlineData("[1.2.3.4]")]
    [InlineData("spaces are.bad")]
    [InlineData("1234:5678::abcd")]
    public void Invalid_server_names(string text) => ServerName.TryParse(text, out _).Should().BeFalse();

    [Theory]
    [InlineData("@alice:example.org", "alice", "example.org")]
    [InlineData("@a.b_c=d-e/f+g:example.org:8448", "a.b_c=d-e/f+g", "example.org:8448")]
    [InlineData("@Historic!User:example.org", "Historic!User", "example.org")]
    [InlineData("@x:[::1]:8008", "x", "[::1]:8008")]
    public void Valid_user_ids(string text, string localpart, string server)
    {
        var id = UserId.Parse(text);
        id.Localpart.Should().Be(localpart);
        id.Server.ToString().Should().Be(server);
    }

    [Theory]
    [InlineData("alice:example.org")]
    [InlineData("@alice")]
    [InlineData("@:example.org")]
    [InlineData("@al ice:example.org")]
    [InlineData("@alice:bad_server")]
    [InlineData("@älice:example.org")]
    public void Invalid_user_ids(string text) => UserId.TryParse(text, out _).Should().BeFalse();

    [Fact]
    public void User_ids_longer_than_255_bytes_are_refused() =>
        UserId.TryParse("@" + new string('a', 250) + ":example.org", out _).Should().BeFalse();

    [Theory]
    [InlineData("alice", true)]
    [InlineData("a.b_c=d-e/f+g", true)]
    [InlineData("Alice", false)]
    [InlineData("al ice", false)]
    [InlineData("", false)]
    [InlineData("al:ice", false)]
    public void New_localpart_grammar(string localpart, bool valid) => UserId.IsValidNewLocalpart(localpart).Should().Be(valid);

    [Theory]
    [InlineData("!abc:example.org", true)]
    [InlineData("!abc", true)]
    [InlineData("abc:example.org", false)]
    [InlineData("!:example.org", false)]
    [InlineData("!abc:bad_server", false)]
    public void Room_ids(string text, bool valid) => RoomId.TryParse(text, out _).Should().Be(valid);

    [Theory]
    [InlineData("#room:example.org", true)]
    [InlineData("#room", false)]
    [InlineData("room:example.org", false)]
    [InlineData("#:example.org", false)]
    public void Room_aliases(string text, bool valid) => RoomAlias.TryParse(text, out _).Should().Be(valid);

    [Theory]
    [InlineData("$abc:example.org", true)]
    [InlineData("$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc", true)]
    [InlineData("$", false)]
    [InlineData("abc", false)]
    public void Event_ids(string text, bool valid) => EventId.TryParse(text, out _).Should().Be(valid);

    [Fact]
    public void Ids_travel_as_json_strings()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(UserId.Parse("@a:b.c"));
        json.Should().Be("\"@a:b.c\"");
        System.Text.Json.JsonSerializer.Deserialize<UserId>(json).Should().Be(UserId.Parse("@a:b.c"));
    }
}
