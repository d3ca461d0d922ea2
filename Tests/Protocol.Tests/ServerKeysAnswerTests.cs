using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>
/// A server's key answer as server-server-api "Retrieving server keys" defines it, checked as Synapse's
/// keyring checks it: about the server asked, signed by a key it lists, old keys valid until expired_ts,
/// and (spec) no key trusted for more than seven days after it was fetched.
/// </summary>
public sealed class ServerKeysAnswerTests
{
    private const long Now = 1_700_000_000_000;
    private static readonly long Day = (long)TimeSpan.FromDays(1).TotalMilliseconds;
    private readonly SigningKey _key = SigningKey.Generate();

    private JsonObject Answer(string server = "remote.example", long? validUntil = null, Action<JsonObject>? change = null, SigningKey? signer = null)
    {
        var answer = new JsonObject
        {
            ["server_name"] = server,
            ["verify_keys"] = new JsonObject { [_key.KeyId] = new JsonObject { ["key"] = _key.PublicKeyBase64 } },
            ["old_verify_keys"] = new JsonObject(),
            ["valid_until_ts"] = validUntil ?? Now + Day,
        };
        change?.Invoke(answer);
        JsonSigning.Sign(answer, server, signer ?? _key);
        return answer;
    }

    [Fact]
    public void A_self_signed_answer_gives_its_key_valid_until_valid_until_ts()
    {
        ServerKeysAnswer.TryVerify(Answer(), "remote.example", Now, out var answer, out var error).Should().BeTrue(error);

        var key = answer.Keys.Single();
        key.KeyId.Should().Be(_key.KeyId);
        key.PublicKey.Should().Equal(_key.PublicKey);
        key.ValidUntilTs.Should().Be(Now + Day);
        key.Expired.Should().BeFalse();
    }

    [Fact]
    public void Validity_is_capped_at_seven_days_after_the_fetch()
    {
        ServerKeysAnswer.TryVerify(Answer(validUntil: Now + 365 * Day), "remote.example", Now, out var answer, out _).Should().BeTrue();

        answer.Keys.Single().ValidUntilTs.Should().Be(Now + 7 * Day);
        answer.ValidUntilTs.Should().Be(Now + 365 * Day, "the answer itself is kept as signed");
    }

    [Fact]
    public void Old_keys_verify_until_their_expired_ts_and_need_no_signature_of_their_own()
    {
        var old = SigningKey.FromSeed(new byte[32], "old");
        var json = Answer(change: a => a["old_verify_keys"] = new JsonObject
        {
            [old.KeyId] = new JsonObject { ["key"] = old.PublicKeyBase64, ["expired_ts"] = Now - Day },
        });

        ServerKeysAnswer.TryVerify(json, "remote.example", Now, out var answer, out var error).Should().BeTrue(error);

        var expired = answer.Keys.Single(k => k.KeyId == old.KeyId);
        expired.Expired.Should().BeTrue();
        expired.ValidUntilTs.Should().Be(Now - Day);
    }

    [Fact]
    public void An_answer_about_another_server_is_refused()
    {
        ServerKeysAnswer.TryVerify(Answer(server: "evil.example"), "remote.example", Now, out _, out var error).Should().BeFalse();
        error.Should().Contain("remote.example");
    }

    [Fact]
    public void An_unsigned_answer_or_one_signed_only_by_a_key_it_does_not_list_is_refused()
    {
        var unsigned = Answer();
        unsigned.Remove("signatures");
        ServerKeysAnswer.TryVerify(unsigned, "remote.example", Now, out _, out _).Should().BeFalse();

        var other = SigningKey.Generate();
        var signedByOther = Answer(signer: other);
        // Signed by a key ID the answer does not list: as if another key signed it.
        var signatures = signedByOther["signatures"]!["remote.example"]!.AsObject();
        if (other.KeyId == _key.KeyId)
        {
            var value = signatures[other.KeyId]!.GetValue<string>();
            signatures.Remove(other.KeyId);
            signatures["ed25519:unlisted"] = value;
        }
        ServerKeysAnswer.TryVerify(signedByOther, "remote.example", Now, out _, out var error).Should().BeFalse();
        error.Should().Contain("not signed");
    }

    [Fact]
    public void A_signature_that_does_not_verify_fails_the_answer_even_beside_a_good_one()
    {
        var json = Answer();
        json["valid_until_ts"] = Now + 2 * Day;

        ServerKeysAnswer.TryVerify(json, "remote.example", Now, out _, out var error).Should().BeFalse();
        error.Should().Contain("does not verify");
    }

    [Theory]
    [InlineData("""{"server_name": "remote.example", "verify_keys": {}, "valid_until_ts": "soon"}""", "valid_until_ts")]
    [InlineData("""{"server_name": "remote.example", "verify_keys": [], "valid_until_ts": 1}""", "verify_keys")]
    [InlineData("""{"server_name": "remote.example", "verify_keys": {"ed25519:a": {"key": "short"}}, "valid_until_ts": 1}""", "32-byte")]
    [InlineData("""{"server_name": "remote.example", "verify_keys": {}, "old_verify_keys": 5, "valid_until_ts": 1}""", "old_verify_keys")]
    [InlineData("""[1, 2]""", "object")]
    public void Malformed_answers_are_refused_naming_the_field(string json, string named)
    {
        ServerKeysAnswer.TryVerify(JsonNode.Parse(json), "remote.example", Now, out _, out var error).Should().BeFalse();
        error.Should().Contain(named);
    }

    [Fact]
    public void Keys_of_other_algorithms_are_skipped_and_too_many_keys_refuse_the_answer()
    {
        var json = Answer(change: a => a["verify_keys"]!["curve25519:x"] = new JsonObject { ["key"] = "AAAA" });
        ServerKeysAnswer.TryVerify(json, "remote.example", Now, out var answer, out var error).Should().BeTrue(error);
        answer.Keys.Should().ContainSingle();

        var many = Answer(change: a =>
        {
            var old = new JsonObject();
            for (var i = 0; i < ServerKeysAnswer.MaxKeys; i++) old[$"ed25519:k{i}"] = new JsonObject { ["key"] = _key.PublicKeyBase64, ["expired_ts"] = 1 };
            a["old_verify_keys"] = old;
        });
        ServerKeysAnswer.TryVerify(many, "remote.example", Now, out _, out error).Should().BeFalse();
        error.Should().Contain("more than");
    }

    [Fact]
    public void A_notary_signature_counts_only_with_a_key_configured_for_the_notary()
    {
        var notary = SigningKey.Generate();
        var json = Answer();
        JsonSigning.Sign(json, "notary.example", notary);

        ServerKeysAnswer.SignedByNotary(json, "notary.example", new Dictionary<string, byte[]> { [notary.KeyId] = notary.PublicKey }).Should().BeTrue();
        ServerKeysAnswer.SignedByNotary(json, "notary.example", new Dictionary<string, byte[]> { ["ed25519:other"] = notary.PublicKey }).Should().BeFalse();
        ServerKeysAnswer.SignedByNotary(json, "notary.example", new Dictionary<string, byte[]> { [notary.KeyId] = _key.PublicKey }).Should().BeFalse();
        ServerKeysAnswer.SignedByNotary(Answer(), "notary.example", new Dictionary<string, byte[]> { [notary.KeyId] = notary.PublicKey }).Should().BeFalse();
    }
}
