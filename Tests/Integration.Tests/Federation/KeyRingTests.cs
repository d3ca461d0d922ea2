using System.Text.Json.Nodes;
using Homeserver.Federation.Keys;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Fetching other servers' keys (server-server-api "Retrieving server keys"): from the server itself over
/// the real transport, kept in PostgreSQL for every process, valid only until the moment its answer
/// allows, from <c>trusted_key_servers</c> when the server cannot answer, and never by a forged answer.
/// </summary>
public sealed class KeyRingTests(FederationTransportFixture fixture) : IClassFixture<FederationTransportFixture>
{
    private static readonly long Hour = (long)TimeSpan.FromHours(1).TotalMilliseconds;
    private RemoteHomeserver Remote => fixture.Remote;

    private static long Now(TimeProvider clock) => clock.GetUtcNow().ToUnixTimeMilliseconds();

    [Fact]
    public async Task A_key_fetched_from_its_server_is_verified_stored_and_found_by_another_process_without_asking_again()
    {
        var remote = FakeServerKeys.Resolving(fixture, "origin");
        var validUntil = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + Hour;
        remote.Serve(Remote, () => remote.Answer(validUntil));

        await using (var first = fixture.CreateClient())
        {
            var key = await first.Services.GetRequiredService<KeyRing>().GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(TimeProvider.System), default);
            key.Should().NotBeNull();
            key!.PublicKey.Should().Equal(remote.Key.PublicKey);
            key.ValidUntilTs.Should().Be(validUntil);
        }

        await using var second = fixture.CreateClient();
        var again = await second.Services.GetRequiredService<KeyRing>().GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(TimeProvider.System), default);
        again!.PublicKey.Should().Equal(remote.Key.PublicKey);
        remote.Fetches(Remote).Should().Be(1);

        var stored = await second.Services.GetRequiredService<RemoteServerKeyStore>().GetAsync(remote.ServerName, [], default);
        var row = stored.Should().ContainSingle().Subject;
        row.FromServer.Should().Be(remote.ServerName);
        var kept = JsonNode.Parse(row.KeyJson)!.AsObject();
        JsonSigning.Verify(kept, remote.ServerName, remote.Key.KeyId, remote.Key.PublicKey).Should().BeTrue("the answer is kept as signed, for notary answers");
    }

    [Fact]
    public async Task A_key_not_valid_at_the_moment_asked_is_not_given_and_the_server_is_not_asked_again_during_back_off()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var remote = FakeServerKeys.Resolving(fixture, "short");
        remote.Serve(Remote, () => remote.Answer(Now(clock) + Hour));
        await using var client = fixture.CreateClient(clock: clock);
        var ring = client.Services.GetRequiredService<KeyRing>();

        (await ring.GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(clock) + 2 * Hour, default)).Should().BeNull();
        remote.Fetches(Remote).Should().Be(1);
        (await ring.GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(clock) + 2 * Hour, default)).Should().BeNull();
        remote.Fetches(Remote).Should().Be(1, "the server could not give the key a minute ago");
        (await ring.GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(clock), default)).Should().NotBeNull("a key valid now needs no fetch");

        clock.Advance(KeyRing.FirstBackOff + TimeSpan.FromSeconds(1));
        (await ring.GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(clock) + 2 * Hour, default)).Should().BeNull();
        remote.Fetches(Remote).Should().Be(2);
        (await ring.GetVerifyKeyAsync(remote.ServerName, "ed25519:made_up", Now(clock), default)).Should().BeNull();
        remote.Fetches(Remote).Should().Be(2, "the back-off doubled and holds for made-up key IDs too");
    }

    [Fact]
    public async Task A_forged_or_misaddressed_answer_gives_no_key_and_stores_nothing()
    {
        var forged = FakeServerKeys.Resolving(fixture, "forged");
        var impostor = SigningKey.Generate();
        forged.Serve(Remote, () => forged.Answer(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + Hour, signer: impostor));
        var misaddressed = FakeServerKeys.Resolving(fixture, "misaddressed");
        misaddressed.Serve(Remote, () => new FakeServerKeys("someone.else").Answer(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + Hour));
        var garbage = FakeServerKeys.Resolving(fixture, "garbage");
        Remote.Handle(garbage.ServerName, "/_matrix/key/v2/server", http => http.Response.WriteAsync("not json {"));
        await using var client = fixture.CreateClient();
        var ring = client.Services.GetRequiredService<KeyRing>();
        var store = client.Services.GetRequiredService<RemoteServerKeyStore>();

        foreach (var server in new[] { forged, misaddressed, garbage })
        {
            (await ring.GetVerifyKeyAsync(server.ServerName, server.Key.KeyId, Now(TimeProvider.System), default)).Should().BeNull(server.ServerName);
            (await store.GetAsync(server.ServerName, [], default)).Should().BeEmpty();
        }
    }

    [Fact]
    public async Task Callers_asking_for_one_server_at_once_share_one_fetch()
    {
        var remote = FakeServerKeys.Resolving(fixture, "shared");
        remote.Serve(Remote, () => remote.Answer(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + Hour), delay: TimeSpan.FromMilliseconds(300));
        await using var client = fixture.CreateClient();
        var ring = client.Services.GetRequiredService<KeyRing>();

        var keys = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            ring.GetVerifyKeyAsync(remote.ServerName, remote.Key.KeyId, Now(TimeProvider.System), default)));

        keys.Should().AllSatisfy(k => k.Should().NotBeNull());
        remote.Fetches(Remote).Should().Be(1);
    }

    [Fact]
    public async Task An_old_key_verifies_signatures_made_before_its_expired_ts_only()
    {
        var remote = FakeServerKeys.Resolving(fixture, "rotated");
        var old = SigningKey.Generate();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        remote.Serve(Remote, () => remote.Answer(now + Hour, a => a["old_verify_keys"] = new JsonObject
        {
            [old.KeyId] = new JsonObject { ["key"] = old.PublicKeyBase64, ["expired_ts"] = now - Hour },
        }));
        await using var client = fixture.CreateClient();
        var ring = client.Services.GetRequiredService<KeyRing>();

        var before = await ring.GetVerifyKeyAsync(remote.ServerName, old.KeyId, now - 2 * Hour, default);
        before!.PublicKey.Should().Equal(old.PublicKey);
        before.Expired.Should().BeTrue();
        (await ring.GetVerifyKeyAsync(remote.ServerName, old.KeyId, now, default)).Should().BeNull();
    }

    [Fact]
    public async Task A_server_that_cannot_answer_is_looked_up_through_a_trusted_notary_whose_signature_is_checked()
    {
        var origin = FakeServerKeys.Resolving(fixture, "offline");
        origin.Serve(Remote, () => null, status: 503);
        var planted = FakeServerKeys.Resolving(fixture, "planted");
        var notary = FakeServerKeys.Resolving(fixture, "notary");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        JsonObject? notaryQuery = null;
        Remote.Handle(notary.ServerName, "/_matrix/key/v2/query", async http =>
        {
            notaryQuery = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
            var answer = origin.Answer(now + Hour);
            JsonSigning.Sign(answer, notary.ServerName, notary.Key);
            var plantedAnswer = planted.Answer(now + Hour);
            JsonSigning.Sign(plantedAnswer, notary.ServerName, notary.Key);
            await http.Response.WriteAsJsonAsync(new JsonObject { ["server_keys"] = new JsonArray(answer, plantedAnswer) });
        });
        await using var client = fixture.CreateClient($$"""
            ip_range_whitelist: ['127.0.0.1']
            trusted_key_servers:
              - server_name: "{{notary.ServerName}}"
                verify_keys: {"{{notary.Key.KeyId}}": "{{notary.Key.PublicKeyBase64}}"}
            """);
        var ring = client.Services.GetRequiredService<KeyRing>();

        var key = await ring.GetVerifyKeyAsync(origin.ServerName, origin.Key.KeyId, now, default);

        key!.PublicKey.Should().Equal(origin.Key.PublicKey);
        notaryQuery!["server_keys"]![origin.ServerName]![origin.Key.KeyId]!["minimum_valid_until_ts"]!.GetValue<long>().Should().Be(now);
        var store = client.Services.GetRequiredService<RemoteServerKeyStore>();
        (await store.GetAsync(origin.ServerName, [], default)).Single().FromServer.Should().Be(notary.ServerName);
        (await store.GetAsync(planted.ServerName, [], default)).Should().BeEmpty("a notary answers only what it was asked");
    }

    [Fact]
    public async Task A_notary_answer_not_signed_with_the_configured_key_is_refused()
    {
        var origin = FakeServerKeys.Resolving(fixture, "offline2");
        origin.Serve(Remote, () => null, status: 404);
        var notary = FakeServerKeys.Resolving(fixture, "notary2");
        var impostor = SigningKey.Generate();
        Remote.Handle(notary.ServerName, "/_matrix/key/v2/query", async http =>
        {
            var answer = origin.Answer(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + Hour);
            JsonSigning.Sign(answer, notary.ServerName, impostor);
            await http.Response.WriteAsJsonAsync(new JsonObject { ["server_keys"] = new JsonArray(answer) });
        });
        await using var client = fixture.CreateClient($$"""
            ip_range_whitelist: ['127.0.0.1']
            trusted_key_servers:
              - server_name: "{{notary.ServerName}}"
                verify_keys: {"{{notary.Key.KeyId}}": "{{notary.Key.PublicKeyBase64}}"}
            """);

        (await client.Services.GetRequiredService<KeyRing>().GetVerifyKeyAsync(origin.ServerName, origin.Key.KeyId, Now(TimeProvider.System), default))
            .Should().BeNull();
        (await client.Services.GetRequiredService<RemoteServerKeyStore>().GetAsync(origin.ServerName, [], default)).Should().BeEmpty();
    }
}
