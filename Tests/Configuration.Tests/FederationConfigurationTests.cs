using System.Net;
using Homeserver.Configuration;

namespace Homeserver.Tests.Configuration;

/// <summary>The keys that limit outbound federation: Synapse's names, defaults and reading of the deprecated key, each fault one sentence.</summary>
public sealed class FederationConfigurationTests
{
    private const string Minimal = """
        server_name: example.org
        listeners:
          - port: 8008
            resources: [{names: [client]}]
        database:
          name: psycopg2
          args: {user: synapse, dbname: synapse}

        """;

    private static HomeserverOptions Load(string extra = "") => HomeserverConfigLoader.LoadFromYaml(Minimal + extra, "homeserver.yaml");

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.0.1")]
    [InlineData("100.64.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("224.0.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::10.0.0.1")]
    [InlineData("2002:0a00:0001::1")]
    public void Without_the_keys_private_and_reserved_addresses_are_refused(string address)
    {
        Load().Federation.IsAddressAllowed(IPAddress.Parse(address)).Should().BeFalse();
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    public void Without_the_keys_public_addresses_are_allowed(string address)
    {
        Load().Federation.IsAddressAllowed(IPAddress.Parse(address)).Should().BeTrue();
    }

    [Fact]
    public void Without_the_keys_every_destination_is_allowed_certificates_are_checked_and_requests_time_out_after_a_minute()
    {
        var federation = Load().Federation;
        federation.DomainWhitelist.Should().BeNull();
        federation.IsDestinationAllowed("anywhere.example").Should().BeTrue();
        federation.VerifyCertificates.Should().BeTrue();
        federation.ClientTimeout.Should().Be(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void A_configured_blacklist_replaces_the_default_but_any_address_stays_blocked()
    {
        var federation = Load("ip_range_blacklist: ['203.0.113.0/24']\n").Federation;
        federation.IsAddressAllowed(IPAddress.Parse("203.0.113.9")).Should().BeFalse();
        federation.IsAddressAllowed(IPAddress.Parse("::ffff:203.0.113.9")).Should().BeFalse();
        federation.IsAddressAllowed(IPAddress.Parse("10.0.0.1")).Should().BeTrue();
        federation.IsAddressAllowed(IPAddress.Parse("0.0.0.0")).Should().BeFalse();
        federation.IsAddressAllowed(IPAddress.Parse("::")).Should().BeFalse();
    }

    [Fact]
    public void The_whitelist_lets_blacklisted_addresses_through_and_host_bits_are_ignored()
    {
        var federation = Load("ip_range_whitelist: ['127.0.0.1/8', '::1']\n").Federation;
        federation.IsAddressAllowed(IPAddress.Parse("127.0.0.1")).Should().BeTrue();
        federation.IsAddressAllowed(IPAddress.Parse("127.9.9.9")).Should().BeTrue();
        federation.IsAddressAllowed(IPAddress.Parse("::1")).Should().BeTrue();
        federation.IsAddressAllowed(IPAddress.Parse("10.0.0.1")).Should().BeFalse();
    }

    [Fact]
    public void The_deprecated_federation_blacklist_replaces_the_blacklist_and_disables_the_whitelist_with_a_warning()
    {
        var options = Load("ip_range_blacklist: ['10.0.0.0/8']\nip_range_whitelist: ['127.0.0.1']\nfederation_ip_range_blacklist: ['127.0.0.0/8']\n");
        options.Federation.IsAddressAllowed(IPAddress.Parse("127.0.0.1")).Should().BeFalse("the whitelist does not apply beside the old key");
        options.Federation.IsAddressAllowed(IPAddress.Parse("10.0.0.1")).Should().BeTrue("the old key replaces ip_range_blacklist");
        options.Federation.IsAddressAllowed(IPAddress.Parse("0.0.0.0")).Should().BeFalse();
        options.Warnings.Should().Contain(w => w.Contains("`federation_ip_range_blacklist` is deprecated"));
    }

    [Fact]
    public void Push_gateways_and_identity_servers_keep_ip_range_blacklist_and_its_whitelist_whatever_the_old_federation_key_says()
    {
        Load("").OutboundHttp.IsAddressAllowed(IPAddress.Parse("127.0.0.1")).Should().BeFalse("Synapse's default list covers loopback");
        Load("").OutboundHttp.IsAddressAllowed(IPAddress.Parse("192.168.1.10")).Should().BeFalse();
        Load("").OutboundHttp.IsAddressAllowed(IPAddress.Parse("93.184.216.34")).Should().BeTrue();
        var outbound = Load("ip_range_blacklist: ['10.0.0.0/8']\nip_range_whitelist: ['10.1.2.3']\nfederation_ip_range_blacklist: ['127.0.0.0/8']\n").OutboundHttp;
        outbound.IsAddressAllowed(IPAddress.Parse("10.0.0.1")).Should().BeFalse();
        outbound.IsAddressAllowed(IPAddress.Parse("10.1.2.3")).Should().BeTrue();
        outbound.IsAddressAllowed(IPAddress.Parse("127.0.0.1")).Should().BeTrue("federation_ip_range_blacklist is for federation only");
    }

    [Theory]
    [InlineData("ip_range_blacklist", "10.0.0.0/33")]
    [InlineData("ip_range_blacklist", "not-an-address")]
    [InlineData("ip_range_whitelist", "10.0/8")]
    [InlineData("ip_range_whitelist", "::1/129")]
    [InlineData("federation_ip_range_blacklist", "10.0.0.0/-1")]
    public void An_invalid_range_fails_naming_the_key_and_value(string key, string value)
    {
        var load = () => Load($"{key}: ['{value}']\n");
        load.Should().Throw<ConfigurationException>().Which.Message.Should()
            .Contain("homeserver.yaml").And.Contain($"`{key}`").And.Contain($"`{value}`");
    }

    [Fact]
    public void The_domain_whitelist_allows_only_the_listed_server_names()
    {
        var federation = Load("federation_domain_whitelist: [matrix.org, 'example.com:8448']\n").Federation;
        federation.IsDestinationAllowed("matrix.org").Should().BeTrue();
        federation.IsDestinationAllowed("example.com:8448").Should().BeTrue();
        federation.IsDestinationAllowed("example.com").Should().BeFalse();
        federation.IsDestinationAllowed("evil.example").Should().BeFalse();
    }

    [Fact]
    public void An_empty_domain_whitelist_allows_no_destination()
    {
        Load("federation_domain_whitelist: []\n").Federation.IsDestinationAllowed("matrix.org").Should().BeFalse();
    }

    [Fact]
    public void A_domain_whitelist_entry_that_is_no_server_name_fails()
    {
        var load = () => Load("federation_domain_whitelist: ['https://matrix.org']\n");
        load.Should().Throw<ConfigurationException>().Which.Message.Should()
            .Contain("`federation_domain_whitelist`").And.Contain("`https://matrix.org`");
    }

    [Fact]
    public void Certificate_checks_can_be_turned_off_with_a_warning()
    {
        var options = Load("federation_verify_certificates: false\n");
        options.Federation.VerifyCertificates.Should().BeFalse();
        options.Warnings.Should().Contain(w => w.Contains("`federation_verify_certificates` is false"));
        var bad = () => Load("federation_verify_certificates: maybe\n");
        bad.Should().Throw<ConfigurationException>().Which.Message.Should().Contain("`federation_verify_certificates`");
    }

    [Fact]
    public void The_client_timeout_is_read_from_the_federation_section()
    {
        Load("federation:\n  client_timeout: 15s\n").Federation.ClientTimeout.Should().Be(TimeSpan.FromSeconds(15));
        var bad = () => Load("federation:\n  client_timeout: soon\n");
        bad.Should().Throw<ConfigurationException>().Which.Message.Should().Contain("`federation.client_timeout`");
    }

    [Fact]
    public void FederationSender_backoff_takes_synapse_defaults_and_destination_retry_keys()
    {
        var defaults = Load().FederationSender;
        defaults.MinRetryInterval.Should().Be(TimeSpan.FromMinutes(10));
        defaults.RetryMultiplier.Should().Be(2);
        defaults.MaxRetryInterval.Should().Be(TimeSpan.FromDays(7));

        var read = Load("federation:\n  destination_min_retry_interval: 30s\n  destination_retry_multiplier: 5\n  destination_max_retry_interval: 1h\n").FederationSender;
        read.Should().Be(new FederationSenderOptions { MinRetryInterval = TimeSpan.FromSeconds(30), RetryMultiplier = 5, MaxRetryInterval = TimeSpan.FromHours(1) });

        var inverted = () => Load("federation:\n  destination_min_retry_interval: 2h\n  destination_max_retry_interval: 1h\n");
        inverted.Should().Throw<ConfigurationException>().Which.Message.Should().Contain("destination_max_retry_interval");
    }

    [Fact]
    public void Trusted_key_servers_are_empty_by_default_and_read_with_their_verify_keys()
    {
        Load().Federation.TrustedKeyServers.Should().BeEmpty();

        var servers = Load("""
            trusted_key_servers:
              - server_name: matrix.org
                verify_keys:
                  "ed25519:auto": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"
              - server_name: notary.example:8448
                accept_keys_insecurely: true
            """).Federation.TrustedKeyServers;

        servers.Select(s => s.ServerName).Should().Equal("matrix.org", "notary.example:8448");
        servers[0].VerifyKeys!["ed25519:auto"].Should().HaveCount(32);
        servers[1].VerifyKeys.Should().BeNull();
    }

    [Theory]
    [InlineData("- server_name: notary.example", "verify_keys")]
    [InlineData("- server_name: notary.example\n    verify_keys: {\"ed25519:a\": \"short\"}", "32-byte")]
    [InlineData("- server_name: notary.example\n    verify_keys: {\"rsa:a\": \"Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw\"}", "ed25519 key ID")]
    [InlineData("- server_name: not a name!\n    accept_keys_insecurely: true", "server name")]
    [InlineData("- verify_keys: {}", "server_name")]
    public void A_trusted_key_server_that_cannot_be_checked_is_refused_naming_the_key(string entry, string named)
    {
        var act = () => Load("trusted_key_servers:\n  " + entry + "\n");
        act.Should().Throw<ConfigurationException>().WithMessage($"*{named}*");
    }
}
