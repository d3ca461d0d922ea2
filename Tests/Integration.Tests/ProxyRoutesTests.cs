using System.Diagnostics;
using Homeserver.ApiHost.Routing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration;

/// <summary>
/// The proxy routes and the endpoints an API host serves come from code and cannot drift: every
/// endpoint falls into a route, the sticky routes catch what they should, and the generated nginx and
/// haproxy configurations pass the real programs' checks.
/// </summary>
public sealed class ProxyRoutesTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private IReadOnlyList<string> ServedPaths()
    {
        var endpoints = fixture.Cluster.ApiHosts[0].Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();
        // Each pattern as a concrete path: parameters get sample values; the catch-all fallbacks are not endpoints.
        return endpoints.Select(e => e.RoutePattern.RawText!)
            .Where(p => !p.Contains("{**", StringComparison.Ordinal))
            .Select(p => System.Text.RegularExpressions.Regex.Replace(p, "\\{[^}]+\\}", "x"))
            .Distinct().ToList();
    }

    [Fact]
    public void Every_served_endpoint_falls_into_a_proxy_route_and_the_sticky_routes_catch_their_endpoints()
    {
        var internals = new HashSet<string> { "/health", "/ready", "/metrics" };
        var unrouted = ServedPaths().Where(p => !internals.Contains(p) && ProxyRoutes.For(p) is null).ToList();
        unrouted.Should().BeEmpty("the proxy must forward everything the API host serves");

        var served = ServedPaths();
        foreach (var route in new[] { "sync", "room", "user_streams", "client", "synapse", "well_known" })
        {
            served.Select(p => ProxyRoutes.For(p)?.Name).Should().Contain(route, $"route {route} should match an endpoint the API host serves");
        }
        ProxyRoutes.For("/_matrix/client/v3/sync")!.Name.Should().Be("sync");
        ProxyRoutes.For("/_matrix/client/v3/rooms/!a:hs/send/m.room.message/t1")!.Name.Should().Be("room");
        ProxyRoutes.For("/_matrix/client/v3/rooms/!a:hs/typing/@u:hs")!.Name.Should().Be("room");
        ProxyRoutes.For("/_matrix/client/v3/sendToDevice/m.test/t")!.Name.Should().Be("user_streams");
        ProxyRoutes.For("/_matrix/client/v3/user/@u:hs/account_data/m.direct")!.Name.Should().Be("user_streams");
        ProxyRoutes.For("/_matrix/client/v3/presence/@u:hs/status")!.Name.Should().Be("user_streams");
        ProxyRoutes.For("/_matrix/federation/v1/send/123")!.Name.Should().Be("federation_send");
        ProxyRoutes.For("/_matrix/media/v3/upload")!.Name.Should().Be("media");
        ProxyRoutes.For("/somewhere/else").Should().BeNull();
    }

    [Fact]
    public async Task The_generated_nginx_and_haproxy_configurations_pass_their_checks()
    {
        var upstreams = new[] { new ProxyUpstream("api1", "127.0.0.1", 8081), new ProxyUpstream("api2", "127.0.0.1", 8082) };
        var directory = Directory.CreateTempSubdirectory("proxy-config");
        try
        {
            var snippet = Path.Combine(directory.FullName, "homeserver.conf");
            await File.WriteAllTextAsync(snippet, ProxyConfigWriter.Nginx(upstreams, 8090));
            var nginxConf = Path.Combine(directory.FullName, "nginx.conf");
            await File.WriteAllTextAsync(nginxConf, $$"""
                pid {{directory.FullName}}/nginx.pid;
                error_log {{directory.FullName}}/error.log;
                events { worker_connections 64; }
                http { access_log off; include {{snippet}}; }
                """);
            await CheckAsync("nginx", "-t", "-c", nginxConf);

            var haproxyCfg = Path.Combine(directory.FullName, "haproxy.cfg");
            await File.WriteAllTextAsync(haproxyCfg, ProxyConfigWriter.Haproxy(upstreams, 8090));
            await CheckAsync("haproxy", "-c", "-f", haproxyCfg);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task CheckAsync(string program, params string[] args)
    {
        // scripts/test installs nginx and haproxy from Debian's packages.
        var path = new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin" }.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);
        path.Should().NotBeNull($"{program} must be installed (scripts/test installs it)");
        using var process = Process.Start(new ProcessStartInfo(path!, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var output = await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        process.ExitCode.Should().Be(0, $"{program} said: {output}");
    }
}
