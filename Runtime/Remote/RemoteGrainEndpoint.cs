using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Catalog;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Invocation;
using Orleans.Runtime.Placement;

namespace Orleans.Runtime.Remote;

/// <summary>The receiving side of remote grain calls, mapped on the replication listener.</summary>
public static class RemoteGrainEndpoint
{
    public static IEndpointConventionBuilder MapGrainCalls(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost(RemoteGrainPaths.Prefix + "/{grainInterface}/{method}", HandleAsync);

    private static async Task HandleAsync(HttpContext http, string grainInterface, string method)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<GrainRuntimeOptions>();
        var log = services.GetRequiredService<RuntimeLog>();
        if (!IsAuthorized(http, options.ReplicationSecret))
        {
            log.ReplicationCallUnauthorized(http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        var registry = services.GetRequiredService<GrainTypeRegistry>();
        if (!registry.TryGetInterface(grainInterface, out var type) ||
            !GrainInterfaceMap.MethodsOf(type).TryGetValue(method, out var grainMethod))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            await http.Response.WriteAsync($"This instance hosts no grain method {grainInterface}.{method}.");
            return;
        }

        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        var key = body["key"]!.GetValue<string>();
        var placement = services.GetRequiredService<PlacementDirector>();
        var owner = placement.Place(type, key);
        if (owner != placement.LocalInstance)
        {
            log.MisdirectedCall(grainMethod.ToString(), key, placement.LocalInstance, owner);
            http.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            return;
        }

        var argsNode = body["args"]!.AsArray();
        var args = new object?[grainMethod.ParameterTypes.Length];
        for (var i = 0; i < args.Length; i++)
        {
            args[i] = argsNode[i]?.Deserialize(grainMethod.ParameterTypes[i], GrainJson.Options);
        }

        JsonObject reply;
        try
        {
            var catalog = services.GetRequiredService<GrainCatalog>();
            var result = await catalog.InvokeAsync(grainMethod, key, args);
            reply = new JsonObject
            {
                ["result"] = grainMethod.ResultType is null ? null : JsonSerializer.SerializeToNode(result, grainMethod.ResultType, GrainJson.Options),
            };
        }
        catch (Exception e)
        {
            http.Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
            reply = RemoteExceptionCodec.Encode(e);
        }
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(reply.ToJsonString());
    }

    private static bool IsAuthorized(HttpContext http, string? secret)
    {
        if (secret is null) return true;
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.Ordinal)) return false;
        return CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(header[scheme.Length..]), Encoding.UTF8.GetBytes(secret));
    }
}
