using System.Text.Json.Nodes;
using Homeserver.Federation.Keys;
using Homeserver.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// This server as a notary (server-server-api "Querying Keys Through Another Server"): other servers'
/// answers as they signed them plus our signature, from what is stored while it is fresh, fetched when
/// it is not, our own keys for ourselves, and nothing for a server that cannot be reached.
/// </summary>
public sealed class KeyNotaryTests(FederationTransportFixture fixture) : IClassFixture<FederationTransportFixture>
{
    private static readonly long Hour = (long)TimeSpan.FromHours(1).TotalMilliseconds;
    private RemoteHomeserver Remote => fixture.Remote;

    private static NotaryQuery All(string server) => new(server, new Dictionary<string, long?>());

    [Fact]
    public async Task A_query_fetches_an_unknown_server_and_answers_its_signed_keys_with_ours_added_then_answers_from_storage()
    {
        var remote = FakeServerKeys.Resolving(fixture, "queried");
        remote.Serve(Remote, () => remote.Answer(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 24 * Hour));
        await using var client = fixture.CreateClient();
        var notary = client.Services.GetRequiredService<KeyNotary>();
        var ours = await client.Services.GetRequiredService<ServerSigningKeys>().CurrentAsync(default);

        var answer = (await notary.QueryAsync([All(remote.ServerName)], default)).Single()!.AsObject();

        answer["server_name"]!.GetValue<string>().Should().Be(remote.ServerName);
        JsonSigning.Verify(answer, remote.ServerName, remote.Key.KeyId, remote.Key.PublicKey).Should().BeTrue();
        JsonSigning.Verify(answer, FederationTransportFixture.OurServerName, ours.KeyId, ours.PublicKey).Should().BeTrue();

        (await notary.QueryAsync([new NotaryQuery(remote.ServerName, new Dictionary<string, long?> { [remote.Key.KeyId] = null })], default))
            .Should().ContainSingle();
        remote.Fetches(Remote).Should().Be(1, "a fresh stored answer is served as it is");
    }

    [Fact]
    public async Task A_minimum_valid_until_ts_past_the_stored_answer_makes_the_notary_ask_again()
    {
        var remote = FakeServerKeys.Resolving(fixture, "renewed");
        var validUntil = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + Hour;
        remote.Serve(Remote, () => remote.Answer(validUntil));
        await using var client = fixture.CreateClient();
        var notary = client.Services.GetRequiredService<KeyNotary>();
        await notary.QueryAsync([All(remote.ServerName)], default);

        validUntil += 5 * Hour;
        var answer = await notary.QueryAsync(
            [new NotaryQuery(remote.ServerName, new Dictionary<string, long?> { [remote.Key.KeyId] = validUntil - Hour })], default);

        remote.Fetches(Remote).Should().Be(2);
        answer.Single()!["valid_until_ts"]!.GetValue<long>().Should().Be(validUntil);
    }

    [Fact]
    public async Task A_query_about_this_server_answers_its_own_keys_and_an_unreachable_server_is_left_out()
    {
        var offline = FakeServerKeys.Resolving(fixture, "unreachable");
        offline.Serve(Remote, () => null, status: 500);
        await using var client = fixture.CreateClient();
        var notary = client.Services.GetRequiredService<KeyNotary>();
        var ours = await client.Services.GetRequiredService<ServerSigningKeys>().CurrentAsync(default);

        var answers = await notary.QueryAsync([All(FederationTransportFixture.OurServerName), All(offline.ServerName)], default);

        var own = answers.Single()!.AsObject();
        own["server_name"]!.GetValue<string>().Should().Be(FederationTransportFixture.OurServerName);
        own["verify_keys"]![ours.KeyId]!["key"]!.GetValue<string>().Should().Be(ours.PublicKeyBase64);
        JsonSigning.Verify(own, FederationTransportFixture.OurServerName, ours.KeyId, ours.PublicKey).Should().BeTrue();
    }
}
