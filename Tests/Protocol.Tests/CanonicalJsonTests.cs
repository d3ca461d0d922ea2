using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

public sealed class CanonicalJsonTests
{
    // The examples of the spec's appendices, "Canonical JSON".
    [Theory]
    [InlineData("{}", "{}")]
    [InlineData("""{"one": 1, "two": "Two"}""", """{"one":1,"two":"Two"}""")]
    [InlineData("""{"b": "2", "a": "1"}""", """{"a":"1","b":"2"}""")]
    [InlineData("""{"b":"2","a":"1"}""", """{"a":"1","b":"2"}""")]
    [InlineData("""{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {"display_name": "John Doe", "three_pids": [{"medium": "email", "address": "john.doe@example.org"}, {"medium": "msisdn", "address": "123456789"}]}}}""",
        """{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}""")]
    [InlineData("""{"a": "日本語"}""", """{"a":"日本語"}""")]
    [InlineData("""{"本": 2, "日": 1}""", """{"日":1,"本":2}""")]
    [InlineData("""{"a": "\u65E5"}""", """{"a":"日"}""")]
    [InlineData("""{"a": null}""", """{"a":null}""")]
    [InlineData("""{"a": -0, "b": 1e10}""", """{"a":0,"b":10000000000}""")]
    public void Spec_examples(string input, string expected) =>
        CanonicalJson.ToCanonicalString(JsonNode.Parse(input)).Should().Be(expected);

    [Theory]
    [InlineData("""{"a": "\u0001\n\t\"\\/<>&\u2028"}""", "{\"a\":\"\\u0001\\n\\t\\\"\\\\/<>&\u2028\"}")]
    [InlineData("""{"\uD83D\uDE00": 1, "\uFFFD": 2}""", "{\"\uFFFD\":2,\"\U0001F600\":1}")]
    public void Escapes_only_what_json_requires_and_sorts_by_code_point(string input, string expected) =>
        CanonicalJson.ToCanonicalString(JsonNode.Parse(input)).Should().Be(expected);

    [Theory]
    [InlineData("""{"a": 1.5}""")]
    [InlineData("""{"a": 9007199254740992}""")]
    [InlineData("""{"a": -9007199254740992}""")]
    public void Rejects_floats_and_unsafe_integers(string input) =>
        FluentActions.Invoking(() => CanonicalJson.ToCanonicalString(JsonNode.Parse(input)))
            .Should().Throw<CanonicalJsonException>();

    [Fact]
    public void Accepts_the_largest_safe_integers() =>
        CanonicalJson.ToCanonicalString(JsonNode.Parse("""[9007199254740991, -9007199254740991]"""))
            .Should().Be("[9007199254740991,-9007199254740991]");
}
