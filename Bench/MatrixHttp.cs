using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Bench;

/// <summary>One user's view of a homeserver over the client-server API, nothing more.</summary>
public sealed class MatrixHttp
{
    private static readonly SocketsHttpHandler Handler = new()
    {
        MaxConnectionsPerServer = 4096,
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        AutomaticDecompression = DecompressionMethods.None,
    };

    private readonly HttpClient _http;

    public MatrixHttp(Uri baseAddress, string? accessToken = null, string userId = "")
    {
        _http = new HttpClient(Handler, disposeHandler: false) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(120) };
        AccessToken = accessToken;
        UserId = userId;
    }

    public string? AccessToken { get; private set; }
    public string UserId { get; private set; }

    /// <summary>Registers with the dummy stage (the server must allow registration, and enough of it).</summary>
    public static async Task<MatrixHttp> RegisterAsync(Uri server, string username, string password)
    {
        var anonymous = new MatrixHttp(server);
        var body = new JsonObject { ["username"] = username, ["password"] = password, ["auth"] = new JsonObject { ["type"] = "m.login.dummy" } };
        var (status, response, _) = await anonymous.SendAsync(HttpMethod.Post, "/_matrix/client/v3/register", body);
        if (status != 200) throw new InvalidOperationException($"Registering {username} failed with {status}: {response}");
        return new MatrixHttp(server, response["access_token"]!.GetValue<string>(), response["user_id"]!.GetValue<string>());
    }

    public async Task<string> CreateRoomAsync(JsonObject body) =>
        (await RequireAsync(HttpMethod.Post, "/_matrix/client/v3/createRoom", body))["room_id"]!.GetValue<string>();

    public Task JoinAsync(string roomId) => RequireAsync(HttpMethod.Post, $"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/join", new JsonObject());

    public async Task<string> SendTextAsync(string roomId, string body) =>
        (await RequireAsync(HttpMethod.Put, $"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/send/m.room.message/{Guid.NewGuid():N}",
            new JsonObject { ["msgtype"] = "m.text", ["body"] = body }))["event_id"]!.GetValue<string>();

    /// <summary>One attempt at a send with the caller's transaction ID (a retry with the same ID must not send twice).</summary>
    public async Task<(int Status, string? EventId)> TrySendTextAsync(string roomId, string txnId, string body, CancellationToken cancellationToken)
    {
        try
        {
            var (status, response, _) = await SendAsync(HttpMethod.Put,
                $"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/send/m.room.message/{Uri.EscapeDataString(txnId)}",
                new JsonObject { ["msgtype"] = "m.text", ["body"] = body }, cancellationToken);
            return (status, status == 200 ? response["event_id"]?.GetValue<string>() : null);
        }
        catch (HttpRequestException)
        {
            return (0, null);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (0, null);
        }
    }

    /// <summary>Every m.room.message event ID of the room, oldest first, through /messages.</summary>
    public async Task<List<string>> MessageIdsAsync(string roomId)
    {
        var ids = new List<string>();
        string? from = null;
        while (true)
        {
            var path = $"/_matrix/client/v3/rooms/{Uri.EscapeDataString(roomId)}/messages?dir=f&limit=500{(from is null ? "" : $"&from={Uri.EscapeDataString(from)}")}";
            var page = await RequireAsync(HttpMethod.Get, path, null);
            var chunk = page["chunk"]?.AsArray() ?? [];
            ids.AddRange(chunk.Where(e => e!["type"]?.GetValue<string>() == "m.room.message").Select(e => e!["event_id"]!.GetValue<string>()));
            if (chunk.Count == 0 || page["end"] is not JsonValue end) return ids;
            from = end.GetValue<string>();
        }
    }

    /// <summary>A /sync: the body and its size in bytes.</summary>
    public async Task<(JsonObject Body, long Bytes)> SyncAsync(string? since, int timeoutMs, string? filter = null, CancellationToken cancellationToken = default)
    {
        var query = $"/_matrix/client/v3/sync?timeout={timeoutMs}{(since is null ? "" : $"&since={since}")}{(filter is null ? "" : $"&filter={Uri.EscapeDataString(filter)}")}";
        var (status, body, bytes) = await SendAsync(HttpMethod.Get, query, null, cancellationToken);
        if (status != 200) throw new InvalidOperationException($"/sync failed with {status}: {body}");
        return (body, bytes);
    }

    private async Task<JsonObject> RequireAsync(HttpMethod method, string path, JsonObject? body)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (status, response, _) = await SendAsync(method, path, body);
            if (status == 200) return response;
            // A rate-limited or briefly unavailable server is waited for, as a client would.
            if (status is 429 or 502 or 503 && attempt < 20)
            {
                await Task.Delay(response["retry_after_ms"]?.GetValue<int>() ?? 200);
                continue;
            }
            throw new InvalidOperationException($"{method} {path} failed with {status}: {response}");
        }
    }

    private async Task<(int Status, JsonObject Body, long Bytes)> SendAsync(HttpMethod method, string path, JsonObject? body,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        if (AccessToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await _http.SendAsync(request, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var json = bytes.Length == 0 ? new JsonObject() : JsonNode.Parse(bytes) as JsonObject ?? new JsonObject();
        return ((int)response.StatusCode, json, bytes.Length);
    }
}

/// <summary>Latencies in milliseconds, with percentiles.</summary>
public sealed class Latencies
{
    private readonly List<double> _values = [];

    public void Add(double ms)
    {
        lock (_values) _values.Add(ms);
    }

    public void Add(TimeSpan elapsed) => Add(elapsed.TotalMilliseconds);

    public int Count
    {
        get { lock (_values) return _values.Count; }
    }

    public double[] Sorted()
    {
        lock (_values) return [.. _values.Order()];
    }

    public double Percentile(double p)
    {
        var sorted = Sorted();
        if (sorted.Length == 0) return double.NaN;
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public static double Since(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
}
