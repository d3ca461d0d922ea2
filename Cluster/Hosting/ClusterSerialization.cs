using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Homeserver.Cluster.Hosting;

public static class ClusterSerialization
{
    /// <summary>
    /// Event content travels as <see cref="JsonNode"/>s (Matrix JSON is open-ended), which Orleans'
    /// own codecs do not know: they cross processes as JSON text through System.Text.Json.
    /// </summary>
    public static IServiceCollection AddHomeserverSerialization(this IServiceCollection services) =>
        services.AddSerializer(serializer => serializer.AddJsonSerializer(isSupported: type => typeof(JsonNode).IsAssignableFrom(type)));
}
