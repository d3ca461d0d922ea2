using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>A thin HTTP client for the client-server API: status code and JSON body of each call.</summary>
public sealed class MatrixClient(Uri baseAddress) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = baseAddress };

    public string? AccessToken { get; set; }

    /// <summary>The user ID the last registration returned.</summary>
    public string UserId { get; private set; } = "";

    public string DeviceId { get; private set; } = "";

    public Task<(int Status, JsonObject Body)> GetAsync(string path) => SendAsync(HttpMethod.Get, path, (string?)null);

    public Task<(int Status, JsonObject Body)> PostAsync(string path, JsonObject body) => SendAsync(HttpMethod.Post, path, body.ToJsonString());

    public Task<(int Status, JsonObject Body)> PutAsync(string path, JsonObject body) => SendAsync(HttpMethod.Put, path, body.ToJsonString());

    public Task<(int Status, JsonObject Body)> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path, (string?)null);

    public async Task<string> CreateRoomAsync(JsonObject body)
    {
        var (status, response) = await PostAsync("/_matrix/client/v3/createRoom", body);
        if (status != 200) throw new InvalidOperationException($"createRoom failed with {status}: {response.ToJsonString()}");
        return response["room_id"]!.GetValue<string>();
    }

    public async Task JoinAsync(string roomId)
    {
        var (status, response) = await PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());
        if (status != 200) throw new InvalidOperationException($"join failed with {status}: {response.ToJsonString()}");
    }

    public async Task<string> SendMessageAsync(string roomId, JsonObject content)
    {
        var (status, response) = await PutAsync($"/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{Guid.NewGuid():N}", content);
        if (status != 200) throw new InvalidOperationException($"send failed with {status}: {response.ToJsonString()}");
        return response["event_id"]!.GetValue<string>();
    }

    /// <summary>The same session through another API host of the server.</summary>
    public MatrixClient Through(Uri otherApiHost) => new(otherApiHost) { AccessToken = AccessToken, UserId = UserId, DeviceId = DeviceId };

    /// <summary>A user name no other test uses.</summary>
    public static string NewUserName() => "u" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The auth of a UIA password stage for <paramref name="user"/> in <paramref name="session"/>.</summary>
    public static JsonObject PasswordAuth(string user, string password, string? session) => new()
    {
        ["type"] = "m.login.password",
        ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = user },
        ["password"] = password,
        ["session"] = session,
    };

    /// <summary>A client signed in as a newly registered user (password "pw").</summary>
    public static async Task<MatrixClient> RegisteredAsync(Uri baseAddress)
    {
        var client = new MatrixClient(baseAddress);
        await client.RegisterAsync(NewUserName(), "pw");
        return client;
    }

    public Task<string> SendTextAsync(string roomId, string body) =>
        SendMessageAsync(roomId, new JsonObject { ["msgtype"] = "m.text", ["body"] = body });

    /// <summary>Sets a state event that must be accepted; returns its event ID.</summary>
    public async Task<string> SetStateAsync(string roomId, string type, JsonObject content, string stateKey = "")
    {
        var (status, response) = await PutAsync($"/_matrix/client/v3/rooms/{roomId}/state/{type}/{stateKey}", content);
        if (status != 200) throw new InvalidOperationException($"setting {type} failed with {status}: {response.ToJsonString()}");
        return response["event_id"]!.GetValue<string>();
    }

    public async Task LeaveAsync(string roomId)
    {
        var (status, response) = await PostAsync($"/_matrix/client/v3/rooms/{roomId}/leave", new JsonObject());
        if (status != 200) throw new InvalidOperationException($"leave failed with {status}: {response.ToJsonString()}");
    }

    public async Task InviteAsync(string roomId, string userId)
    {
        var (status, response) = await PostAsync($"/_matrix/client/v3/rooms/{roomId}/invite", new JsonObject { ["user_id"] = userId });
        if (status != 200) throw new InvalidOperationException($"invite failed with {status}: {response.ToJsonString()}");
    }

    /// <summary>A sync (initial without <paramref name="since"/>) that must answer 200.</summary>
    public async Task<JsonObject> SyncAsync(string? since = null, string query = "")
    {
        var (status, body) = await GetAsync($"/_matrix/client/v3/sync?timeout=0{(since is null ? "" : $"&since={since}")}{query}");
        if (status != 200) throw new InvalidOperationException($"sync failed with {status}: {body.ToJsonString()}");
        return body;
    }

    /// <summary>Long-polls incremental syncs from <paramref name="since"/> until a response satisfies <paramref name="done"/>; returns it.</summary>
    public async Task<JsonObject> SyncUntilAsync(string since, Func<JsonObject, bool> done, string query = "")
    {
        for (var i = 0; i < 40; i++)
        {
            var (status, body) = await GetAsync($"/_matrix/client/v3/sync?timeout=5000&since={since}{query}");
            if (status != 200) throw new InvalidOperationException($"sync failed with {status}: {body.ToJsonString()}");
            if (done(body)) return body;
            since = body["next_batch"]!.GetValue<string>();
        }
        throw new TimeoutException("No sync response satisfied the condition.");
    }

    public async Task<(int Status, JsonObject Body)> SendAsync(HttpMethod method, string path, string? rawBody)
    {
        using var request = new HttpRequestMessage(method, path);
        if (rawBody is not null) request.Content = new StringContent(rawBody, Encoding.UTF8, "application/json");
        if (AccessToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 512 }) as JsonObject ?? new JsonObject { ["_raw"] = text };
        return ((int)response.StatusCode, json);
    }

    /// <summary>Sends <paramref name="body"/> byte for byte (for bodies no string can hold, such as invalid UTF-8).</summary>
    public async Task<(int Status, JsonObject Body)> SendBytesAsync(HttpMethod method, string path, byte[] body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (AccessToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 512 }) as JsonObject ?? new JsonObject { ["_raw"] = text };
        return ((int)response.StatusCode, json);
    }

    /// <summary>Registers through the dummy UIA flow and keeps the access token.</summary>
    public async Task<JsonObject> RegisterAsync(string username, string password)
    {
        var (status, challenge) = await PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = username, ["password"] = password });
        if (status != 401) throw new InvalidOperationException($"expected a UIA challenge, got {status}: {challenge.ToJsonString()}");
        var (done, body) = await PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = username,
            ["password"] = password,
            ["auth"] = new JsonObject { ["type"] = "m.login.dummy", ["session"] = challenge["session"]!.GetValue<string>() },
        });
        if (done != 200) throw new InvalidOperationException($"registration failed with {done}: {body.ToJsonString()}");
        AccessToken = body["access_token"]!.GetValue<string>();
        UserId = body["user_id"]!.GetValue<string>();
        DeviceId = body["device_id"]!.GetValue<string>();
        return body;
    }

    /// <summary>Registers a guest account (POST /register?kind=guest, no UIA) and keeps its access token.</summary>
    public async Task<JsonObject> RegisterGuestAsync(JsonObject? body = null)
    {
        var (status, registered) = await PostAsync("/_matrix/client/v3/register?kind=guest", body ?? new JsonObject());
        if (status != 200) throw new InvalidOperationException($"guest registration failed with {status}: {registered.ToJsonString()}");
        AccessToken = registered["access_token"]!.GetValue<string>();
        UserId = registered["user_id"]!.GetValue<string>();
        DeviceId = registered["device_id"]!.GetValue<string>();
        return registered;
    }

    /// <summary>Logs in with a password as a new device and keeps its access token.</summary>
    public async Task LoginAsync(string userId, string password)
    {
        var (status, body) = await PostAsync("/_matrix/client/v3/login", new JsonObject
        {
            ["type"] = "m.login.password",
            ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = userId },
            ["password"] = password,
        });
        if (status != 200) throw new InvalidOperationException($"login failed with {status}: {body.ToJsonString()}");
        AccessToken = body["access_token"]!.GetValue<string>();
        UserId = body["user_id"]!.GetValue<string>();
        DeviceId = body["device_id"]!.GetValue<string>();
    }

    public void Dispose() => _http.Dispose();
}
