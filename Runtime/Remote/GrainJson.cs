using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.Runtime.Remote;

/// <summary>The one serializer setting for grain calls and stream rows between processes.</summary>
public static class GrainJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.Strict,
    };
}
