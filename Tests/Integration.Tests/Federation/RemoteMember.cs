using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>A user of a fake remote server joined to one of our rooms through make_join and send_join, so our server counts that server as sharing the room.</summary>
public static class RemoteMember
{
    public static async Task JoinAsync(Uri baseAddress, FakeServerKeys remote, string userId, string roomId)
    {
        var version = RoomVersions.Default;
        var (status, body) = await FederationRequests.SendSignedAsync(baseAddress, remote, HttpMethod.Get,
            $"/_matrix/federation/v1/make_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(userId)}?ver={version.Id}");
        status.Should().Be(200, body.ToJsonString());
        var join = body["event"]!.AsObject();
        ContentHash.Add(join);
        EventSigning.SignEvent(join, version, remote.ServerName, remote.Key);
        var joinId = EventIds.Compute(join, version).ToString();
        (status, body) = await FederationRequests.SendSignedAsync(baseAddress, remote, HttpMethod.Put,
            $"/_matrix/federation/v2/send_join/{Uri.EscapeDataString(roomId)}/{Uri.EscapeDataString(joinId)}", join);
        status.Should().Be(200, body.ToJsonString());
    }

    /// <summary>PUTs a transaction of EDUs to our server as <paramref name="remote"/>.</summary>
    public static async Task SendEdusAsync(Uri baseAddress, FakeServerKeys remote, params JsonObject[] edus)
    {
        var txn = new JsonObject
        {
            ["origin"] = remote.ServerName,
            ["origin_server_ts"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["pdus"] = new JsonArray(),
            ["edus"] = new JsonArray([.. edus]),
        };
        var (status, body) = await FederationRequests.SendSignedAsync(baseAddress, remote, HttpMethod.Put, $"/_matrix/federation/v1/send/{Guid.NewGuid():N}", txn);
        status.Should().Be(200, body.ToJsonString());
    }
}
