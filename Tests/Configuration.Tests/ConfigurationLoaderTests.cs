using Homeserver.Configuration;

namespace Homeserver.Tests.Configuration;

public sealed class ConfigurationLoaderTests
{
    private const string Minimal = """
        server_name: example.org
        listeners:
          - port: 8008
            bind_addresses: ['127.0.0.1']
            resources: [{names: [client, federation]}]
        database:
          name: psycopg2
          args: {user: synapse, dbname: synapse, host: /run/postgresql, port: 5432}
        """;

    [Fact]
    public void GuestAccess_is_off_unless_allow_guest_access_says_so()
    {
        HomeserverConfigLoader.LoadFromYaml(Minimal, "homeserver.yaml").AllowGuestAccess.Should().BeFalse("Synapse's default");
        HomeserverConfigLoader.LoadFromYaml(Minimal + "\nallow_guest_access: true\n", "homeserver.yaml").AllowGuestAccess.Should().BeTrue();
        var generated = HomeserverConfigGenerator.Generate(new GenerateConfigRequest("localhost", "/srv/hs/data", "/srv/hs/data/postgres", 5432, "postgres", "homeserver"));
        HomeserverConfigLoader.LoadFromYaml(generated, "homeserver.yaml").AllowGuestAccess.Should().BeFalse();
    }

    [Fact]
    public void Public_rooms_are_closed_to_federation_unless_allow_public_rooms_over_federation_says_so()
    {
        HomeserverConfigLoader.LoadFromYaml(Minimal, "homeserver.yaml").AllowPublicRoomsOverFederation.Should().BeFalse("Synapse's default");
        HomeserverConfigLoader.LoadFromYaml(Minimal + "\nallow_public_rooms_over_federation: true\n", "homeserver.yaml").AllowPublicRoomsOverFederation
            .Should().BeTrue();
    }

    [Fact]
    public void The_user_directory_section_reads_as_synapse_with_its_defaults()
    {
        HomeserverConfigLoader.LoadFromYaml(Minimal, "homeserver.yaml").UserDirectory.Should().Be(new UserDirectoryOptions
        {
            Enabled = true, SearchAllUsers = false, PreferLocalUsers = false,
        });
        HomeserverConfigLoader.LoadFromYaml(Minimal + "\nuser_directory: {enabled: false, search_all_users: true, prefer_local_users: true}\n",
            "homeserver.yaml").UserDirectory.Should().Be(new UserDirectoryOptions { Enabled = false, SearchAllUsers = true, PreferLocalUsers = true });
        var settings = Homeserver.Configuration.Processes.ProcessSettingsLoader.FromOptions(
            HomeserverConfigLoader.LoadFromYaml(Minimal + "\nuser_directory: {search_all_users: true}\n", "homeserver.yaml"), null, Homeserver.Configuration.Processes.ProcessKind.Monolith);
        settings.UserDirectory.SearchAllUsers.Should().BeTrue();
    }

    [Fact]
    public void Generated_config_loads_back_with_fresh_secrets_and_registration_closed()
    {
        var request = new GenerateConfigRequest("localhost", "/srv/hs/data", "/srv/hs/data/postgres", 5432, "postgres", "homeserver");
        var first = HomeserverConfigLoader.LoadFromYaml(HomeserverConfigGenerator.Generate(request), "homeserver.yaml");
        var second = HomeserverConfigLoader.LoadFromYaml(HomeserverConfigGenerator.Generate(request), "homeserver.yaml");

        first.ServerName.Should().Be("localhost");
        first.EnableRegistration.Should().BeFalse();
        first.RegistrationSharedSecret.Should().NotBeNullOrEmpty().And.HaveLength(50);
        first.RegistrationSharedSecret.Should().NotBe(second.RegistrationSharedSecret);
        first.Listeners.Should().ContainSingle().Which.Port.Should().Be(8008);
        first.Listeners[0].BindAddresses.Should().Equal("127.0.0.1");
        first.Listeners[0].Resources.Should().BeEquivalentTo(["client", "federation"]);
        first.Database.ToNpgsqlConnectionString().Should().Contain("Host=/srv/hs/data/postgres").And.Contain("Database=homeserver");
        first.StreamWriters["events"].Should().Equal("main");
        first.RateLimits.Should().Be(RateLimitOptions.Defaults);
    }

    [Fact]
    public void A_synapse_worker_setup_loads()
    {
        var options = HomeserverConfigLoader.LoadFromYaml(Minimal + """

            redis: {enabled: true, host: 127.0.0.1, port: 6380}
            worker_replication_secret: "abc"
            instance_map:
              main: {host: localhost, port: 8030}
              event_persister1: {host: localhost, port: 8034}
              event_persister2: {host: 127.0.0.1, port: 8035}
            orleans: {allow_insecure_loopback: true, response_timeout_seconds: 5}
            stream_writers:
              events: [event_persister1, event_persister2]
              typing: event_persister1
            run_background_tasks_on: event_persister2
            federation_sender_instances: [event_persister1]
            rc_message: {per_second: 1, burst_count: 20}
            """, "homeserver.yaml");

        options.StreamWriters["events"].Should().Equal("event_persister1", "event_persister2");
        options.StreamWriters["typing"].Should().Equal("event_persister1");
        options.WritersFor("receipts").Should().Equal("main");
        options.InstanceMap["event_persister2"].Should().Be(new InstanceLocation("127.0.0.1", 8035, false));
        options.Orleans.AllowInsecureLoopback.Should().BeTrue();
        options.Orleans.ResponseTimeout.Should().Be(TimeSpan.FromSeconds(5));
        options.Orleans.ServiceId.Should().Be("example.org", "the service defaults to the server name");
        options.Warnings.Should().Contain(w => w.Contains("`redis` is not used")).And.Contain(w => w.Contains("`worker_replication_secret` is not used"));
        options.RateLimits.Message.Should().Be(new RateLimit(1, 20));
        options.RunBackgroundTasksOn.Should().Be("event_persister2");
    }

    [Fact]
    public void A_worker_file_loads()
    {
        var worker = HomeserverConfigLoader.LoadWorkerFromYaml("""
            worker_app: synapse.app.generic_worker
            worker_name: generic_worker1
            worker_listeners:
              - type: http
                port: 8083
                x_forwarded: true
                resources: [{names: [client, federation]}]
            """, "generic_worker1.yaml");
        worker.WorkerName.Should().Be("generic_worker1");
        worker.Kind.Should().Be(WorkerKind.ApiHost);
        worker.WorkerListeners.Single().Port.Should().Be(8083);
    }

    [Theory]
    [InlineData("server_name: example.org\n", "`database` is missing")]
    [InlineData("listeners: []\ndatabase: {args: {user: u, dbname: d}}\n", "`server_name` is missing")]
    [InlineData("server_name: 'bad name'\ndatabase: {args: {user: u, dbname: d}}\n", "`server_name` must be")]
    [InlineData("server_name: example.org:99999\ndatabase: {args: {user: u, dbname: d}}\n", "`server_name` must be")]
    [InlineData("server_name: a.org\ndatabase: {name: sqlite3, args: {database: x.db}}\n", "`database.name` must be `psycopg2`")]
    [InlineData("server_name: a.org\ndatabase: {args: {dbname: d}}\n", "`database.args.user` is missing")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d, port: abc}}\n", "`database.args.port` must be a number from 1 to 65535, not `abc`")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nlisteners: [{port: abc}]\n", "`listeners[0].port` must be a number")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nlisteners: [{port: 80, tls: true}]\n", "`listeners[0].tls` is set, so `tls_certificate_path`")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nlisteners: [{port: 80, bind_addresses: [nowhere]}]\n", "`listeners[0].bind_addresses`")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nenable_registration: maybe\n", "`enable_registration` must be true or false")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nstream_writers: {typing: worker9}\n", "`stream_writers.typing` names `worker9`, which is not in `instance_map`")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\ninstance_map: {main: {host: h, port: 1}, a: {host: h, port: 2}, b: {host: h, port: 3}}\nstream_writers: {typing: [a, b]}\n", "`stream_writers.typing` lists 2 writers, but the typing stream allows only one")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nstream_writers: {evnts: main}\n", "`stream_writers.evnts` is not a stream")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\ninstance_map: {a: {host: h, port: 2}}\nstream_writers: {events: a}\n", "`instance_map` must include `main`")]
    [InlineData("server_name: a.org\ndatabase: {args: {user: u, dbname: d}}\nfederation_sender_instances: [sender1]\n", "`federation_sender_instances` names `sender1`")]
    [InlineData("server_name: a.org\n  bad: indentation\n", "line 2")]
    [InlineData("- just\n- a list\n", "must be a YAML mapping")]
    public void Wrong_or_missing_values_stop_start_up_with_one_sentence_naming_the_key(string yaml, string expected)
    {
        var load = () => HomeserverConfigLoader.LoadFromYaml(yaml, "homeserver.yaml");
        var error = load.Should().Throw<ConfigurationException>().Which.Message;
        error.Should().StartWith("homeserver.yaml").And.Contain(expected);
        error.TrimEnd('.', ')').Should().NotContain("\n");
    }

    [Theory]
    [InlineData("worker_app: synapse.app.generic_worker\n", "`worker_name` is missing")]
    [InlineData("worker_name: w\nworker_app: synapse.app.federation_reader\n", "`worker_app` must be")]
    public void Wrong_worker_files_are_refused(string yaml, string expected) =>
        FluentActions.Invoking(() => HomeserverConfigLoader.LoadWorkerFromYaml(yaml, "w.yaml"))
            .Should().Throw<ConfigurationException>().Which.Message.Should().Contain(expected);

    [Theory]
    [InlineData("instance_map: {s1: {host: 10.0.0.5, port: 11111}}\n", "needs `orleans.tls_certificate_path`")]
    [InlineData("instance_map: {s1: {host: 10.0.0.5, port: 11111}}\norleans: {allow_insecure_loopback: true}\n", "`instance_map.s1` is on 10.0.0.5, not loopback")]
    [InlineData("orleans: {response_timeout_seconds: 0}\n", "`orleans.response_timeout_seconds` must be from 1 to 300")]
    public void A_split_deployment_without_tls_is_refused_unless_it_is_all_loopback(string yaml, string expected) =>
        FluentActions.Invoking(() => HomeserverConfigLoader.LoadFromYaml("server_name: example.org\ndatabase: {args: {user: u, dbname: d}}\n" + yaml, "homeserver.yaml"))
            .Should().Throw<ConfigurationException>().Which.Message.Should().Contain(expected);

    [Fact]
    public void A_cluster_with_a_certificate_loads()
    {
        var options = HomeserverConfigLoader.LoadFromYaml("""
            server_name: example.org
            database: {args: {user: u, dbname: d}}
            instance_map: {s1: {host: 10.0.0.5, port: 11111}}
            orleans: {tls_certificate_path: /etc/homeserver/cluster.pfx, cluster_id: prod, service_id: hs}
            """, "homeserver.yaml");
        options.Orleans.TlsCertificatePath.Should().Be("/etc/homeserver/cluster.pfx");
        options.Orleans.ClusterId.Should().Be("prod");
        options.Orleans.ServiceId.Should().Be("hs");
    }

    [Fact]
    public void A_silo_worker_file_needs_a_gateway_port()
    {
        FluentActions.Invoking(() => HomeserverConfigLoader.LoadWorkerFromYaml("worker_app: silo\nworker_name: s1\n", "s1.yaml"))
            .Should().Throw<ConfigurationException>().Which.Message.Should().Contain("`orleans_gateway_port`");
        HomeserverConfigLoader.LoadWorkerFromYaml("worker_app: silo\nworker_name: s1\norleans_gateway_port: 30001\n", "s1.yaml")
            .GatewayPort.Should().Be(30001);
    }

    [Fact]
    public void A_missing_file_is_one_sentence() =>
        FluentActions.Invoking(() => HomeserverConfigLoader.Load("/nonexistent/homeserver.yaml"))
            .Should().Throw<ConfigurationException>().Which.Message.Should().Contain("/nonexistent/homeserver.yaml");

    [Fact]
    public void Serve_server_wellknown_is_off_unless_asked_as_in_synapse()
    {
        HomeserverConfigLoader.LoadFromYaml(Minimal, "homeserver.yaml").ServeServerWellKnown.Should().BeFalse();
        HomeserverConfigLoader.LoadFromYaml(Minimal + "\nserve_server_wellknown: true\n", "homeserver.yaml").ServeServerWellKnown.Should().BeTrue();
        FluentActions.Invoking(() => HomeserverConfigLoader.LoadFromYaml(Minimal + "\nserve_server_wellknown: sometimes\n", "homeserver.yaml"))
            .Should().Throw<ConfigurationException>().WithMessage("*serve_server_wellknown*");
    }
}
