using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>A thin HTTP client for the client-server API: status code and JSON body of each call.</summary>
public sealed class MatrixClient(Uri baseAddress) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = baseAddress };

    public string? AccessToken { get; set; }

    public Task<(int Status, JsonObject Body)> GetAsync(string path) => SendAsync(HttpMethod.Get, path, (string?)null);

    public Task<(int Status, JsonObject Body)> PostAsync(string path, JsonObject body) => SendAsync(HttpMethod.Post, path, body.ToJsonString());

    public async Task<(int Status, JsonObject Body)> SendAsync(HttpMethod method, string path, string? rawBody)
    {
        using var request = new HttpRequestMessage(method, path);
        if (rawBody is not null) request.Content = new StringContent(rawBody, Encoding.UTF8, "application/json");
        if (AccessToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject { ["_raw"] = text };
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
        return body;
    }

    public void Dispose() => _http.Dispose();
}
