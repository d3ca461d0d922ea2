using System.Net;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Http;

namespace Homeserver.Tests.Integration;

/// <summary>The paths each resource serves, as Synapse's <c>_configure_named_resource</c> mounts them.</summary>
public sealed class ListenerResourcesMappingTests
{
    private static bool Serves(string resources, string path)
    {
        var settings = new ProcessSettings
        {
            ServerName = "test.local",
            InstanceName = "main",
            Kind = ProcessKind.Monolith,
            DatabaseConnectionString = "",
            Listeners =
            [
                new ListenerSettings([IPAddress.Loopback], 8008, resources.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet()),
                new ListenerSettings([IPAddress.Loopback], 9000, new HashSet<string>()),
            ],
        };
        return new ListenerResources(settings).Serves(8008, new PathString(path));
    }

    [Theory]
    [InlineData("client", "/_matrix/client/v3/sync", true)]
    [InlineData("client", "/_matrix/client/v1/media/download/a/b", true)]
    [InlineData("client", "/_synapse/admin/v1/users/x", true)]
    [InlineData("client", "/_synapse/client/oidc/callback", true)]
    [InlineData("client", "/.well-known/matrix/client", true)]
    [InlineData("client", "/.well-known/matrix/server", true)]
    [InlineData("client", "/_matrix/media/v3/config", true)]
    [InlineData("client", "/_matrix/federation/v1/version", false)]
    [InlineData("client", "/_matrix/key/v2/server", false)]
    [InlineData("client", "/_matrix/clientx/versions", false)]
    [InlineData("client", "/metrics", false)]
    [InlineData("federation", "/_matrix/federation/v1/send/1", true)]
    [InlineData("federation", "/_matrix/federation/v1/openid/userinfo", true)]
    [InlineData("federation", "/_matrix/key/v2/query", true)]
    [InlineData("federation", "/_matrix/media/v3/download/a/b", true)]
    [InlineData("federation", "/_matrix/client/versions", false)]
    [InlineData("federation", "/_Matrix/CLIENT/versions", false)]
    [InlineData("federation", "/_synapse/admin/v1/server_version", false)]
    [InlineData("keys", "/_matrix/key/v2/server", true)]
    [InlineData("keys", "/_matrix/federation/v1/version", false)]
    [InlineData("openid", "/_matrix/federation/v1/openid/userinfo", true)]
    [InlineData("openid", "/_matrix/federation/v1/version", false)]
    [InlineData("media", "/_matrix/media/v3/upload", true)]
    [InlineData("media", "/_matrix/client/v1/media/config", true)]
    [InlineData("media", "/_matrix/federation/v1/media/download/x", true)]
    [InlineData("media", "/_matrix/client/v3/sync", false)]
    [InlineData("metrics", "/metrics", true)]
    [InlineData("metrics", "/_matrix/client/versions", false)]
    [InlineData("health", "/health", true)]
    [InlineData("federation", "/health", true)]
    [InlineData("federation", "/ready", true)]
    [InlineData("health", "/", false)]
    [InlineData("client,federation", "/_matrix/key/v2/server", true)]
    [InlineData("", "/_matrix/client/versions", true)]
    [InlineData("", "/_matrix/federation/v1/version", true)]
    public void A_listener_serves_the_paths_of_its_resources(string resources, string path, bool served) =>
        Serves(resources, path).Should().Be(served);
}
