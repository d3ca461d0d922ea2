using System.Text.Json;
using System.Text.Json.Nodes;
using Homeserver.Protocol;
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
        services.AddSerializer(serializer => serializer.AddJsonSerializer(
            isSupported: type => typeof(JsonNode).IsAssignableFrom(type), jsonSerializerOptions: JsonOptions()));

    /// <summary>Stored events nest deeper than System.Text.Json's default 64 levels allow (see <see cref="StoredJson"/>).</summary>
    private static JsonSerializerOptions JsonOptions()
    {
        var options = new JsonSerializerOptions();
        StoredJson.Configure(options);
        return options;
    }
}
