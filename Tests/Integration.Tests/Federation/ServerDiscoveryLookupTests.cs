using System.Net;
using System.Text.Json.Nodes;
using Homeserver.Federation.Discovery;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Discovery's lookups for real: /.well-known/matrix/server fetched over HTTPS from the remote and cached
/// by Synapse's rules, SRV answers from the loopback DNS server kept for their TTL, on a fake clock.
/// </summary>
public sealed class ServerDiscoveryLookupTests(FederationTransportFixture fixture) : IClassFixture<FederationTransportFixture>
{
    private RemoteHomeserver Remote => fixture.Remote;

    private string ResolvingToLoopback(string prefix)
    {
        var name = fixture.Name(prefix);
        fixture.Dns.AddAddress(name, IPAddress.Loopback);
        return name;
    }

    private static RemoteHomeserver.WellKnownAnswer Delegation(string server, string? cacheControl = null) =>
        new(200, new JsonObject { ["m.server"] = server }.ToJsonString(),
            cacheControl is null ? null : new Dictionary<string, string> { ["Cache-Control"] = cacheControl });

    [Fact]
    public async Task A_delegated_server_is_reached_and_its_well_known_fetched_again_only_when_max_age_runs_out()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var delegating = ResolvingToLoopback("delegating");
        var target = ResolvingToLoopback("target");
        Remote.SetWellKnown(delegating, Delegation($"{target}:{Remote.Port}", "max-age=600"));
        await using var client = fixture.CreateClient(clock: clock);
        var path = $"/_matrix/federation/v1/version?{Guid.NewGuid():N}";
        Task<FederationResponse> Send() => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, delegating, path), default);

        (await Send()).StatusCode.Should().Be(200);
        var received = Remote.Requests.First(r => r.PathAndQuery == path);
        received.Host.Should().Be($"{target}:{Remote.Port}");
        received.Sni.Should().Be(target);
        Remote.WellKnownFetches(delegating).Should().Be(1);

        await Send();
        Remote.WellKnownFetches(delegating).Should().Be(1, "the second resolution is answered from the cache");
        clock.Advance(TimeSpan.FromSeconds(470));
        await Send();
        Remote.WellKnownFetches(delegating).Should().Be(1, "max-age=600 has not run out");
        clock.Advance(TimeSpan.FromSeconds(140));
        await Send();
        Remote.WellKnownFetches(delegating).Should().Be(2, "max-age=600 ran out");
    }

    [Fact]
    public async Task Requests_to_a_new_server_at_once_share_one_well_known_fetch()
    {
        var delegating = ResolvingToLoopback("burst");
        var target = ResolvingToLoopback("bursttarget");
        Remote.SetWellKnown(delegating, Delegation($"{target}:{Remote.Port}"));
        await using var client = fixture.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ =>
            client.Client.SendAsync(new FederationRequest(HttpMethod.Get, delegating, "/_matrix/federation/v1/version"), default)));

        responses.Should().OnlyContain(r => r.StatusCode == 200);
        Remote.WellKnownFetches(delegating).Should().Be(1);
    }

    [Fact]
    public async Task Cache_periods_follow_the_headers_within_bounds_with_24_hours_by_default_and_an_hour_for_no_answer()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var client = fixture.CreateClient(clock: clock);
        var resolver = client.Services.GetRequiredService<WellKnownResolver>();
        var shortLived = ResolvingToLoopback("short");
        var longLived = ResolvingToLoopback("long");
        var plain = ResolvingToLoopback("plain");
        var missing = ResolvingToLoopback("missing");
        var invalid = ResolvingToLoopback("invalid");
        Remote.SetWellKnown(shortLived, Delegation("a.example", "public, max-age=10"));
        Remote.SetWellKnown(longLived, Delegation("a.example", "max-age=31536000"));
        Remote.SetWellKnown(plain, Delegation("a.example"));
        Remote.SetWellKnown(invalid, new RemoteHomeserver.WellKnownAnswer(200, """{"m.server": "not a server name!"}"""));

        (await resolver.ResolveAsync(shortLived, default)).Expires.Should().Be(clock.GetUtcNow() + TimeSpan.FromMinutes(5));
        (await resolver.ResolveAsync(longLived, default)).Expires.Should().Be(clock.GetUtcNow() + TimeSpan.FromHours(48));
        var byDefault = await resolver.ResolveAsync(plain, default);
        byDefault.Value.Should().Be("a.example");
        (byDefault.Expires - clock.GetUtcNow()).Should().BeCloseTo(TimeSpan.FromHours(24), TimeSpan.FromHours(2.4));

        foreach (var host in new[] { missing, invalid })
        {
            var none = await resolver.ResolveAsync(host, default);
            none.Value.Should().BeNull();
            (none.Expires - clock.GetUtcNow()).Should().BeCloseTo(TimeSpan.FromHours(1), TimeSpan.FromMinutes(6));
        }
        // Refetched in the last fifth of its life: after 43 to 53 minutes.
        clock.Advance(TimeSpan.FromMinutes(40));
        (await resolver.ResolveAsync(missing, default)).Value.Should().BeNull();
        Remote.WellKnownFetches(missing).Should().Be(1, "no answer is remembered for about an hour");
        clock.Advance(TimeSpan.FromMinutes(14));
        await resolver.ResolveAsync(missing, default);
        Remote.WellKnownFetches(missing).Should().Be(2);
    }

    [Fact]
    public async Task A_still_valid_answer_survives_a_temporary_failure_and_a_host_that_had_one_is_retried_after_two_minutes()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var client = fixture.CreateClient(clock: clock);
        var resolver = client.Services.GetRequiredService<WellKnownResolver>();
        var flaky = ResolvingToLoopback("flaky");
        Remote.SetWellKnown(flaky, Delegation("b.example", "max-age=600"));
        (await resolver.ResolveAsync(flaky, default)).Value.Should().Be("b.example");

        Remote.SetWellKnown(flaky, new RemoteHomeserver.WellKnownAnswer(503, "{}"));
        clock.Advance(TimeSpan.FromSeconds(500));
        (await resolver.ResolveAsync(flaky, default)).Value.Should().Be("b.example", "a 503 in the last fifth of its life keeps the answer");
        Remote.WellKnownFetches(flaky).Should().Be(2, "the last fifth of an answer's life refetches it");

        clock.Advance(TimeSpan.FromSeconds(101));
        var gone = await resolver.ResolveAsync(flaky, default);
        gone.Value.Should().BeNull("the answer has expired");
        (gone.Expires - clock.GetUtcNow()).Should().BeCloseTo(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(13));
    }

    [Fact]
    public async Task Redirects_are_followed_a_few_times_and_an_oversized_body_is_no_answer()
    {
        await using var client = fixture.CreateClient(clock: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var resolver = client.Services.GetRequiredService<WellKnownResolver>();
        var moved = ResolvingToLoopback("moved");
        var landing = ResolvingToLoopback("landing");
        var loop = ResolvingToLoopback("loop");
        var large = ResolvingToLoopback("large");
        RemoteHomeserver.WellKnownAnswer Redirect(string to) => new(302, "", new Dictionary<string, string>
        {
            ["Location"] = $"https://{to}:{Remote.Port}/.well-known/matrix/server",
        });
        Remote.SetWellKnown(moved, Redirect(landing));
        Remote.SetWellKnown(landing, Delegation("c.example"));
        Remote.SetWellKnown(loop, Redirect(loop));
        Remote.SetWellKnown(large, new RemoteHomeserver.WellKnownAnswer(200, $$"""{"m.server": "d.example", "pad": "{{new string('x', 51 * 1024)}}"}"""));

        (await resolver.ResolveAsync(moved, default)).Value.Should().Be("c.example");
        (await resolver.ResolveAsync(loop, default)).Value.Should().BeNull();
        Remote.WellKnownFetches(loop).Should().Be(WellKnownFetcher.MaxRedirects + 1);
        (await resolver.ResolveAsync(large, default)).Value.Should().BeNull();
    }

    [Fact]
    public async Task The_well_known_fetch_obeys_the_IP_blacklist_too()
    {
        await using var client = fixture.CreateClient(yaml: "", clock: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var delegating = ResolvingToLoopback("blocked");
        Remote.SetWellKnown(delegating, Delegation("e.example"));

        (await client.Services.GetRequiredService<WellKnownResolver>().ResolveAsync(delegating, default)).Value.Should().BeNull();

        Remote.WellKnownFetches(delegating).Should().Be(0);
    }

    [Fact]
    public async Task SRV_answers_are_kept_for_their_TTL_and_a_name_without_records_has_none()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var client = fixture.CreateClient(clock: clock);
        var srv = client.Services.GetRequiredService<SrvResolver>();
        var service = $"_matrix-fed._tcp.{fixture.Name("srv")}";
        fixture.Dns.AddSrv(service, "host.fed.test.", 8448, priority: 5, weight: 3, ttl: 300);

        var first = await srv.LookupAsync(service, default);
        first.Value.Should().Equal(new SrvRecord("host.fed.test.", 8448, 5, 3));
        first.Expires.Should().Be(clock.GetUtcNow() + TimeSpan.FromSeconds(300));
        await srv.LookupAsync(service, default);
        clock.Advance(TimeSpan.FromSeconds(299));
        await srv.LookupAsync(service, default);
        fixture.Dns.SrvQuestions(service).Should().Be(1, "the TTL of 300 s has not run out");
        clock.Advance(TimeSpan.FromSeconds(2));
        await srv.LookupAsync(service, default);
        fixture.Dns.SrvQuestions(service).Should().Be(2);

        var nothing = $"_matrix-fed._tcp.{fixture.Name("nosrv")}";
        (await srv.LookupAsync(nothing, default)).Value.Should().BeEmpty();
    }

    [Fact]
    public async Task When_DNS_fails_a_known_SRV_answer_is_kept_and_an_unknown_name_fails_the_request()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var client = fixture.CreateClient(clock: clock);
        var srv = client.Services.GetRequiredService<SrvResolver>();
        var service = $"_matrix-fed._tcp.{fixture.Name("servfail")}";
        fixture.Dns.AddSrv(service, "kept.fed.test.", 8448, ttl: 60);
        (await srv.LookupAsync(service, default)).Value.Should().ContainSingle();

        fixture.Dns.SetFailing(service, true);
        clock.Advance(TimeSpan.FromSeconds(61));
        (await srv.LookupAsync(service, default)).Value.Should().ContainSingle().Which.Target.Should().Be("kept.fed.test.");
        fixture.Dns.SrvQuestions(service).Should().BeGreaterThan(1, "the expired answer was asked for again");

        var server = fixture.Name("unresolvable");
        fixture.Dns.SetFailing($"_matrix-fed._tcp.{server}", true);
        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, server, "/_matrix/federation/v1/version"), default);
        (await send.Should().ThrowAsync<FederationRequestException>()).Which.Destination.Should().Be(server);
    }

    [Fact]
    public async Task Targets_are_cached_per_server_name_until_the_answers_they_rest_on_expire()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var client = fixture.CreateClient(clock: clock);
        var resolver = client.Services.GetRequiredService<FederationTargetResolver>();
        var server = ResolvingToLoopback("cached");
        fixture.Dns.AddSrv($"_matrix-fed._tcp.{server}", "host.fed.test.", 8448, ttl: 120);

        var targets = await resolver.ResolveAsync(ServerName.Parse(server), default);
        targets.Should().Equal(new FederationTarget("host.fed.test", 8448, server, server));
        clock.Advance(TimeSpan.FromSeconds(119));
        await resolver.ResolveAsync(ServerName.Parse(server), default);
        fixture.Dns.SrvQuestions($"_matrix-fed._tcp.{server}").Should().Be(1);
        Remote.WellKnownFetches(server).Should().Be(1);
        clock.Advance(TimeSpan.FromSeconds(2));
        await resolver.ResolveAsync(ServerName.Parse(server), default);
        fixture.Dns.SrvQuestions($"_matrix-fed._tcp.{server}").Should().Be(2, "the SRV TTL ran out, so the targets did too");
        Remote.WellKnownFetches(server).Should().Be(1, "the missing well-known is still remembered");
    }
}
