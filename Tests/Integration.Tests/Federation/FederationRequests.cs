using System.Text;
using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>Signed requests to our server as a remote sends them, and checks of what our server sent a remote.</summary>
public static class FederationRequests
{
    public static async Task<(int Status, JsonObject Body)> SendSignedAsync(Uri baseAddress, FakeServerKeys origin, HttpMethod method, string uri,
        JsonObject? content = null)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("Authorization",
            XMatrixAuthorization.Sign(method.Method, uri, origin.ServerName, FederationClusterFixture.OurServerName, content, origin.Key).ToHeaderValue());
        if (content is not null) request.Content = new StringContent(content.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>Whether a request a remote received carries our server's valid X-Matrix signature, checked with the key /_matrix/key/v2/server gives.</summary>
    public static async Task<bool> SignedByUsAsync(Uri baseAddress, RemoteHomeserver.ReceivedRequest request, string destination)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        var keys = JsonNode.Parse(await http.GetStringAsync("/_matrix/key/v2/server"))!.AsObject();
        var (keyId, key) = keys["verify_keys"]!.AsObject().Single();
        if (!XMatrixAuthorization.TryParse(request.Authorization, out var authorization, out _)) return false;
        var content = request.Body.Length == 0 ? null : JsonNode.Parse(request.Body);
        return authorization.Origin == FederationClusterFixture.OurServerName && authorization.KeyId == keyId &&
            authorization.Verify(request.Method, request.PathAndQuery, destination, content, UnpaddedBase64.Decode(key!["key"]!.GetValue<string>()));
    }

    public static string ErrCode(this JsonObject body) => body["errcode"]?.GetValue<string>() ?? "";
}
