using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>The X-Matrix Authorization header (server-server-api "Request Authentication"): signing, writing, parsing, verifying.</summary>
public sealed class XMatrixAuthorizationTests
{
    private static readonly SigningKey Key = SigningKey.FromSeed(UnpaddedBase64.Decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"), "key1");
    private static readonly JsonObject Body = new() { ["pdus"] = new JsonArray(), ["origin"] = "origin.hs.example.com" };

    private static XMatrixAuthorization Signed(JsonNode? content = null) =>
        XMatrixAuthorization.Sign("PUT", "/_matrix/federation/v1/send/1?x=y", "origin.hs.example.com", "destination.hs.example.com", content ?? Body, Key);

    private static XMatrixAuthorization Parse(string header)
    {
        XMatrixAuthorization.TryParse(header, out var auth, out var error).Should().BeTrue(error);
        return auth;
    }

    [Fact]
    public void A_signed_request_verifies_only_as_it_was_signed()
    {
        var auth = Signed();
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", Body, Key.PublicKey).Should().BeTrue();

        auth.Verify("POST", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", Body, Key.PublicKey).Should().BeFalse("the method is signed");
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=z", "destination.hs.example.com", Body, Key.PublicKey).Should().BeFalse("the query is signed");
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", new JsonObject { ["pdus"] = new JsonArray(1) }, Key.PublicKey)
            .Should().BeFalse("the body is signed");
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", null, Key.PublicKey).Should().BeFalse("no body is not an empty one");
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "other.example.com", Body, Key.PublicKey).Should().BeFalse("another server's request is refused");
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", Body, SigningKey.Generate().PublicKey).Should().BeFalse();
    }

    [Fact]
    public void A_body_is_signed_as_parsed_json_whatever_its_spacing_or_key_order()
    {
        var auth = Signed(JsonNode.Parse("""{"b": 1,   "a": [true, null]}"""));
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", JsonNode.Parse("""{"a":[true,null],"b":1}"""), Key.PublicKey)
            .Should().BeTrue();
    }

    [Fact]
    public void The_header_round_trips_in_the_form_older_servers_read()
    {
        var auth = Signed();
        var header = auth.ToHeaderValue();
        header.Should().StartWith("X-Matrix origin=\"origin.hs.example.com\",destination=\"destination.hs.example.com\",key=\"ed25519:key1\",sig=\"");
        header.Should().NotContain(", ");
        Parse(header).Should().Be(auth);
    }

    [Theory]
    [InlineData("X-Matrix origin=\"a.example\",destination=\"b.example\",key=\"ed25519:k\",sig=\"c2ln\"")]
    [InlineData("x-matrix   origin=a.example , destination=b.example,\tkey=ed25519:k ,sig=c2ln")]
    [InlineData("X-MATRIX SIG=\"c2ln\",Key=\"ed25519:k\",DESTINATION=\"b.example\",Origin=\"a.example\"")]
    [InlineData("X-Matrix origin=\"a\\.example\",destination=\"b.example\",key=\"ed25519:k\",sig=\"c2ln\",future=\"ignored, really\"")]
    public void Parsing_accepts_what_rfc_9110_and_the_spec_allow(string header)
    {
        var auth = Parse(header);
        auth.Should().Be(new XMatrixAuthorization("a.example", "b.example", "ed25519:k", "c2ln"));
    }

    [Fact]
    public void A_header_without_destination_is_accepted_for_older_senders()
    {
        var signed = Signed();
        var header = $"X-Matrix origin=origin.hs.example.com,key=\"ed25519:key1\",sig=\"{signed.Signature}\"";
        var auth = Parse(header);
        auth.Destination.Should().BeNull();
        auth.Verify("PUT", "/_matrix/federation/v1/send/1?x=y", "destination.hs.example.com", Body, Key.PublicKey).Should().BeTrue(
            "the signed JSON still names the receiving server");
    }

    [Theory]
    [InlineData(null, "no header")]
    [InlineData("", "empty")]
    [InlineData("Bearer abc", "another scheme")]
    [InlineData("X-Matrixorigin=a.example,key=ed25519:k,sig=c2ln", "no space after the scheme")]
    [InlineData("X-Matrix key=ed25519:k,sig=c2ln", "no origin")]
    [InlineData("X-Matrix origin=a.example,sig=c2ln", "no key")]
    [InlineData("X-Matrix origin=a.example,key=ed25519:k", "no sig")]
    [InlineData("X-Matrix origin=a.example,key=rsa:k,sig=c2ln", "not an ed25519 key")]
    [InlineData("X-Matrix origin=\"not a server\",key=ed25519:k,sig=c2ln", "an origin that is no server name")]
    [InlineData("X-Matrix origin=a.example,origin=b.example,key=ed25519:k,sig=c2ln", "a repeated parameter")]
    [InlineData("X-Matrix origin=\"a.example,key=ed25519:k,sig=c2ln", "unclosed quotes")]
    [InlineData("X-Matrix origin=a.example key=ed25519:k sig=c2ln", "no commas")]
    [InlineData("X-Matrix origin=,key=ed25519:k,sig=c2ln", "an empty value")]
    [InlineData("X-Matrix =a.example,key=ed25519:k,sig=c2ln", "no name")]
    public void Parsing_refuses_malformed_headers(string? header, string why)
    {
        XMatrixAuthorization.TryParse(header, out _, out var error).Should().BeFalse(why);
        error.Should().NotBeNullOrEmpty();
    }

    [Fact]
    public void An_overlong_header_is_refused_unread() =>
        XMatrixAuthorization.TryParse("X-Matrix origin=a.example,key=ed25519:k,sig=" + new string('A', XMatrixAuthorization.MaxHeaderLength), out _, out _)
            .Should().BeFalse();

    [Fact]
    public void A_signature_that_is_not_base64_fails_verification_without_throwing() =>
        new XMatrixAuthorization("origin.hs.example.com", "destination.hs.example.com", "ed25519:key1", "!!not base64!!")
            .Verify("GET", "/_matrix/key/v2/server", "destination.hs.example.com", null, Key.PublicKey).Should().BeFalse();
}
