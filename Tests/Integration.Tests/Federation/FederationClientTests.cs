using System.Net;
using System.Security.Authentication;
using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Federation.Keys;
using Homeserver.Federation.Transport;
using Homeserver.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// The federation client against a real HTTPS server on loopback, names resolved by a real DNS server:
/// signed requests, the IP limits after DNS, the domain whitelist, certificate checks, falling through
/// dead targets, and the response cap.
/// </summary>
public sealed class FederationClientTests(FederationTransportFixture fixture) : IClassFixture<FederationTransportFixture>
{
    private RemoteHomeserver Remote => fixture.Remote;

    private string ResolvingToLoopback(string prefix)
    {
        var name = fixture.Name(prefix);
        fixture.Dns.AddAddress(name, IPAddress.Loopback);
        return name;
    }

    [Fact]
    public async Task A_signed_request_arrives_with_the_host_header_SNI_canonical_JSON_body_and_a_signature_our_published_key_verifies()
    {
        var name = ResolvingToLoopback("remote");
        var destination = $"{name}:{Remote.Port}";
        await using var client = fixture.CreateClient();
        var content = new JsonObject { ["pdus"] = new JsonArray(), ["origin"] = FederationTransportFixture.OurServerName, ["b"] = "é", ["a"] = 1 };
        var path = $"/_matrix/federation/v1/send/{Guid.NewGuid():N}?x=1";

        var response = await client.Client.SendAsync(new FederationRequest(HttpMethod.Put, destination, path, content), default);

        response.StatusCode.Should().Be(200);
        response.Body!["ok"]!.GetValue<bool>().Should().BeTrue();
        var received = Remote.Requests.Single(r => r.PathAndQuery == path);
        received.Method.Should().Be("PUT");
        received.Host.Should().Be(destination);
        received.Sni.Should().Be(name);
        received.ContentType.Should().Be("application/json");
        Encoding.UTF8.GetString(received.Body).Should().Be(CanonicalJson.ToCanonicalString(content));

        XMatrixAuthorization.TryParse(received.Authorization, out var authorization, out var error).Should().BeTrue(error);
        authorization.Origin.Should().Be(FederationTransportFixture.OurServerName);
        authorization.Destination.Should().Be(destination);
        var published = await client.Services.GetRequiredService<ServerSigningKeys>().CurrentAsync(default);
        authorization.KeyId.Should().Be(published.KeyId);
        authorization.Verify("PUT", path, destination, JsonNode.Parse(received.Body), published.PublicKey).Should().BeTrue();
        authorization.Verify("PUT", path + "&y=2", destination, JsonNode.Parse(received.Body), published.PublicKey).Should().BeFalse();
    }

    [Fact]
    public async Task An_unsigned_request_has_no_authorization_and_a_GET_no_body()
    {
        var name = ResolvingToLoopback("unsigned");
        await using var client = fixture.CreateClient();
        var path = $"/_matrix/key/v2/server?{Guid.NewGuid():N}";

        (await client.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"{name}:{Remote.Port}", path, Signed: false), default))
            .StatusCode.Should().Be(200);

        var received = Remote.Requests.Single(r => r.PathAndQuery == path);
        received.Authorization.Should().BeNull();
        received.Body.Should().BeEmpty();
    }

    [Fact]
    public async Task Loopback_is_refused_under_the_default_blacklist_and_reached_when_ip_range_whitelist_names_it()
    {
        var destination = $"127.0.0.1:{Remote.Port}";
        var path = $"/_matrix/federation/v1/version?{Guid.NewGuid():N}";
        await using (var strict = fixture.CreateClient(yaml: ""))
        {
            var send = () => strict.Client.SendAsync(new FederationRequest(HttpMethod.Get, destination, path), default);
            (await send.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("ip_range_blacklist").And.Contain("127.0.0.1");
            var ipv6 = () => strict.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"[::1]:{Remote.Port}", path), default);
            (await ipv6.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("ip_range_blacklist");
        }
        Remote.Requests.Should().NotContain(r => r.PathAndQuery == path);

        await using var allowing = fixture.CreateClient(yaml: "ip_range_whitelist: ['127.0.0.0/8']");
        (await allowing.Client.SendAsync(new FederationRequest(HttpMethod.Get, destination, path), default)).StatusCode.Should().Be(200);
        var received = Remote.Requests.Single(r => r.PathAndQuery == path);
        received.Host.Should().Be(destination);
        received.Sni.Should().BeNullOrEmpty("an IP literal is never sent as SNI");
    }

    [Fact]
    public async Task A_name_that_DNS_resolves_to_a_private_address_is_refused_whatever_the_name()
    {
        var name = fixture.Name("private");
        fixture.Dns.AddAddress(name, IPAddress.Parse("10.0.0.1"));
        fixture.Dns.AddAddress(name, IPAddress.Parse("fd00::1"));
        await using var client = fixture.CreateClient();

        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"{name}:{Remote.Port}", "/_matrix/federation/v1/version"), default);

        var refusal = (await send.Should().ThrowAsync<FederationRequestException>()).Which;
        refusal.Message.Should().Contain("ip_range_blacklist").And.Contain("10.0.0.1").And.Contain("fd00::1");
        refusal.Destination.Should().Be($"{name}:{Remote.Port}");
    }

    [Fact]
    public async Task Localhost_resolved_by_the_operating_system_is_refused_under_the_default_blacklist()
    {
        await using var client = fixture.CreateClient(yaml: "", systemDns: true);

        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"localhost:{Remote.Port}", "/_matrix/federation/v1/version"), default);

        (await send.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("ip_range_blacklist");
    }

    [Fact]
    public async Task A_destination_outside_the_domain_whitelist_is_refused_before_any_DNS_or_connection()
    {
        var name = ResolvingToLoopback("unlisted");
        await using var client = fixture.CreateClient(yaml: "ip_range_whitelist: ['127.0.0.1']\nfederation_domain_whitelist: ['listed.fed.test']");
        var questions = fixture.Dns.AllQuestions;
        var requests = Remote.Requests.Count;

        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, name, "/_matrix/federation/v1/version"), default);

        (await send.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("federation_domain_whitelist");
        fixture.Dns.AllQuestions.Should().Be(questions);
        Remote.Requests.Count.Should().Be(requests);
        Remote.WellKnownFetches(name).Should().Be(0);
    }

    [Fact]
    public async Task A_certificate_from_another_CA_or_for_another_name_is_refused_and_accepted_without_verification()
    {
        using var otherCa = new TestCertificateAuthority("Some other CA");
        await using var untrusted = await RemoteHomeserver.StartAsync(otherCa.IssueFor("*.fed.test", "127.0.0.1"));
        await using var misnamed = await RemoteHomeserver.StartAsync(fixture.Ca.IssueFor("elsewhere.example"));
        var name = ResolvingToLoopback("tls");
        await using var verifying = fixture.CreateClient();

        foreach (var port in new[] { untrusted.Port, misnamed.Port })
        {
            var send = () => verifying.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"{name}:{port}", "/_matrix/federation/v1/version"), default);
            var refusal = (await send.Should().ThrowAsync<FederationRequestException>()).Which;
            Causes(refusal).OfType<AuthenticationException>().Should().NotBeEmpty("the handshake fails: {0}", refusal);
        }
        untrusted.Requests.Should().BeEmpty();
        misnamed.Requests.Should().BeEmpty();

        await using var trusting = fixture.CreateClient(yaml: "ip_range_whitelist: ['127.0.0.1']\nfederation_verify_certificates: false");
        (await trusting.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"{name}:{untrusted.Port}", "/_matrix/federation/v1/version"), default))
            .StatusCode.Should().Be(200);
        (await trusting.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"{name}:{misnamed.Port}", "/_matrix/federation/v1/version"), default))
            .StatusCode.Should().Be(200);
    }

    [Fact]
    public async Task When_the_first_SRV_target_cannot_be_connected_the_next_one_gets_the_request()
    {
        var server = ResolvingToLoopback("multi");
        var dead = ResolvingToLoopback("dead");
        var live = ResolvingToLoopback("live");
        fixture.Dns.AddSrv($"_matrix-fed._tcp.{server}", dead, LoopbackPorts.Free(), priority: 1);
        fixture.Dns.AddSrv($"_matrix-fed._tcp.{server}", live, Remote.Port, priority: 2);
        await using var client = fixture.CreateClient();
        var path = $"/_matrix/federation/v1/version?{Guid.NewGuid():N}";

        (await client.Client.SendAsync(new FederationRequest(HttpMethod.Get, server, path), default)).StatusCode.Should().Be(200);

        var received = Remote.Requests.Single(r => r.PathAndQuery == path);
        received.Host.Should().Be(server, "SRV delegation keeps the server name as Host");
        received.Sni.Should().Be(server, "and as the certificate name");
        Remote.WellKnownFetches(server).Should().Be(1, "well-known comes before SRV (here a 404)");
    }

    [Fact]
    public async Task When_no_target_can_be_connected_the_failure_names_each()
    {
        var server = fixture.Name("nowhere");
        var dead = ResolvingToLoopback("dead");
        fixture.Dns.AddSrv($"_matrix-fed._tcp.{server}", dead, LoopbackPorts.Free());
        await using var client = fixture.CreateClient();

        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, server, "/_matrix/federation/v1/version"), default);

        (await send.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("no target could be connected").And.Contain(dead);
    }

    [Fact]
    public async Task An_SRV_record_of_dot_means_no_federation_service()
    {
        var server = fixture.Name("noservice");
        fixture.Dns.AddSrv($"_matrix-fed._tcp.{server}", ".", 0);
        await using var client = fixture.CreateClient();

        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, server, "/_matrix/federation/v1/version"), default);

        (await send.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("no federation service");
    }

    [Fact]
    public async Task An_endless_response_is_cut_at_the_limit_with_an_exception_rather_than_buffered()
    {
        var name = ResolvingToLoopback("huge");
        await using var client = fixture.CreateClient();
        var destination = $"{name}:{Remote.Port}";

        var limited = () => client.Client.SendAsync(
            new FederationRequest(HttpMethod.Get, destination, RemoteHomeserver.HugePath) { MaxResponseBytes = 1024 * 1024 }, default);
        (await limited.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("larger than the 1048576 bytes allowed");

        var byDefault = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, destination, RemoteHomeserver.HugePath), default);
        (await byDefault.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("10485760");

        var declared = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, destination, RemoteHomeserver.HugeDeclaredPath), default);
        (await declared.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain($"{1L << 40} bytes");
    }

    [Fact]
    public async Task A_request_that_outlives_its_timeout_fails_as_a_federation_error()
    {
        var name = ResolvingToLoopback("slow");
        await using var client = fixture.CreateClient();

        var send = () => client.Client.SendAsync(new FederationRequest(HttpMethod.Get, $"{name}:{Remote.Port}", RemoteHomeserver.SilentPath)
        {
            Timeout = TimeSpan.FromSeconds(1),
        }, default);

        (await send.Should().ThrowAsync<FederationRequestException>()).Which.Message.Should().Contain("no answer within 1 s");
    }

    [Fact]
    public async Task Transport_options_that_cannot_work_are_refused_naming_the_problem()
    {
        await using var client = fixture.CreateClient();
        var options = client.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<FederationTransportOptions>>();
        var validator = client.Services.GetServices<Microsoft.Extensions.Options.IValidateOptions<FederationTransportOptions>>().Single();

        validator.Validate(null, options.CurrentValue).Succeeded.Should().BeTrue();
        var broken = validator.Validate(null, new FederationTransportOptions { WellKnownPort = 0, NameServers = [] });
        broken.Failed.Should().BeTrue();
        broken.Failures.Should().Contain(f => f.Contains("WellKnownPort")).And.Contain(f => f.Contains("NameServers"));
    }

    private static IEnumerable<Exception> Causes(Exception e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException) yield return cause;
    }
}
