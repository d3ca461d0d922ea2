using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Invocation;

namespace Orleans.Runtime.Remote;

/// <summary>Calls grains in other processes over HTTP/2 (cleartext, prior knowledge) on their replication listener.</summary>
public sealed class RemoteGrainCaller : IDisposable
{
    private readonly HttpClient _http;
    private readonly GrainRuntimeOptions _options;
    private readonly TimeProvider _timeProvider;

    public RemoteGrainCaller(GrainRuntimeOptions options, TimeProvider timeProvider)
    {
        _options = options;
        _timeProvider = timeProvider;
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public async Task<object?> InvokeAsync(string instance, GrainMethod method, string key, object?[] arguments)
    {
        if (!_options.Instances.TryGetValue(instance, out var baseUri))
        {
            throw new SiloUnavailableException(
                $"Grain call {method} for {key}: instance '{instance}' owns it but is not in instance_map.");
        }

        var body = new JsonObject { ["key"] = key };
        var args = new JsonArray();
        for (var i = 0; i < method.ParameterTypes.Length; i++)
        {
            args.Add(JsonSerializer.SerializeToNode(arguments[i], method.ParameterTypes[i], GrainJson.Options));
        }
        body["args"] = args;

        using var request = new HttpRequestMessage(HttpMethod.Post, RemoteGrainPaths.CallUri(baseUri, method))
        {
            Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (_options.ReplicationSecret is { } secret)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }

        using var timeout = new CancellationTokenSource(_options.ResponseTimeout, _timeProvider);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"Grain call {method} for {key} on {instance} did not answer within {_options.ResponseTimeout.TotalSeconds:0.#} s.");
        }
        catch (HttpRequestException e)
        {
            throw new SiloUnavailableException(
                $"Grain call {method} for {key}: instance '{instance}' at {baseUri} is unreachable ({e.Message}).", e);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            switch (response.StatusCode)
            {
                case HttpStatusCode.OK:
                    var result = JsonNode.Parse(text)?["result"];
                    return method.ResultType is null || result is null
                        ? null
                        : result.Deserialize(method.ResultType, GrainJson.Options);
                case HttpStatusCode.UnprocessableEntity:
                    throw RemoteExceptionCodec.Decode(JsonNode.Parse(text)!.AsObject());
                case HttpStatusCode.Unauthorized:
                    throw new UnauthorizedAccessException(
                        $"Instance '{instance}' refused grain call {method}: wrong or missing worker_replication_secret.");
                case HttpStatusCode.MisdirectedRequest:
                    throw new MisdirectedGrainCallException(
                        $"Instance '{instance}' does not own {method.Interface.Name} {key}; the instances disagree on placement configuration.");
                default:
                    throw new SiloUnavailableException(
                        $"Grain call {method} for {key} on '{instance}' failed with HTTP {(int)response.StatusCode}: {text}");
            }
        }
    }

    public void Dispose() => _http.Dispose();
}

internal static class RemoteGrainPaths
{
    public const string Prefix = "/_grains/v1";

    public static Uri CallUri(Uri baseUri, GrainMethod method) =>
        new(baseUri, $"{Prefix}/{Uri.EscapeDataString(GrainInterfaceMap.WireName(method.Interface))}/{method.Name}");
}
