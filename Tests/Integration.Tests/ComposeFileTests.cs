using Homeserver.ApiHost.Routing;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using YamlDotNet.RepresentationModel;

namespace Homeserver.Tests.Integration;

/// <summary>
/// compose.yaml cannot be run here (no Docker engine), so it is read: every service is there with a
/// health check, each homeserver process's configuration loads and gives it the role its name says,
/// the start order waits on health, and the nginx file is exactly what the route generator writes.
/// </summary>
public sealed class ComposeFileTests
{
    private static readonly string Root = RepositoryPaths.Root;

    private static YamlMappingNode Services()
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Root, "compose.yaml"))) stream.Load(reader);
        return (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["services"];
    }

    private static string[] Command(YamlMappingNode service) =>
        ((YamlSequenceNode)service["command"]).Children.Select(c => ((YamlScalarNode)c).Value!)
            .Select(a => a.StartsWith("/config/", StringComparison.Ordinal) ? Path.Combine(Root, "deploy", a["/config/".Length..]) : a).ToArray();

    [Fact]
    public void Every_service_is_there_with_a_health_check()
    {
        var services = Services();
        services.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().BeEquivalentTo(["postgres", "silo1", "silo2", "api1", "api2", "nginx"]);
        foreach (var (name, node) in services.Children)
        {
            ((YamlMappingNode)node).Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Contain("healthcheck", $"{name} needs a health check");
        }
    }

    [Theory]
    [InlineData("silo1", ProcessKind.Silo)]
    [InlineData("silo2", ProcessKind.Silo)]
    [InlineData("api1", ProcessKind.ApiHost)]
    [InlineData("api2", ProcessKind.ApiHost)]
    public void Each_homeserver_process_loads_its_configuration_and_takes_its_role(string name, ProcessKind kind)
    {
        var service = (YamlMappingNode)Services()[name];
        var settings = ProcessSettingsLoader.FromCommandLine(Command(service), ProcessKind.Monolith);
        settings.Should().NotBeNull($"{name}'s configuration must load");
        settings!.Kind.Should().Be(kind);
        settings.InstanceName.Should().Be(name);
        settings.Warnings.Should().BeEmpty();
        settings.Orleans.TlsCertificatePath.Should().Be("/config/certs/cluster.pfx", "processes of a split deployment authenticate each other");
        if (kind == ProcessKind.Silo)
        {
            settings.InstanceMap[name].Should().Be(new InstanceLocation(name, 11111, false));
            settings.GatewayPort.Should().Be(30000);
            settings.StreamWriters["events"].Should().Contain(name);
        }

        // The health check asks /ready on a port this process listens on.
        var probe = ((YamlSequenceNode)((YamlMappingNode)service["healthcheck"])["test"]).Children.Last().ToString();
        settings.Listeners.Select(l => l.Port).Should().Contain(new Uri(probe).Port);
        new Uri(probe).AbsolutePath.Should().Be("/ready");

        var dependsOn = (YamlMappingNode)service["depends_on"];
        dependsOn.Children.Values.Should().OnlyContain(d => ((YamlMappingNode)d)["condition"].ToString() == "service_healthy");
    }

    [Fact]
    public void The_nginx_file_is_what_the_route_generator_writes_for_the_api_hosts()
    {
        var upstreams = new[] { "api1", "api2" }.Select(name =>
        {
            var worker = HomeserverConfigLoader.LoadWorker(Path.Combine(Root, "deploy", "workers", $"{name}.yaml"));
            return new ProxyUpstream(worker.WorkerName, worker.WorkerName, worker.WorkerListeners.Single(l => l.Resources.Contains("client")).Port);
        }).ToList();
        File.ReadAllText(Path.Combine(Root, "deploy", "nginx", "homeserver.conf")).Should().Be(ProxyConfigWriter.Nginx(upstreams, 8008, "0.0.0.0"),
            "deploy/nginx/homeserver.conf is generated; regenerate it with the command in compose.yaml");
    }

}
