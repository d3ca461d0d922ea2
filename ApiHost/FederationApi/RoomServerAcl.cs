using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// Applies a room's current <c>m.room.server_acl</c> to the server asking (server-server-api "Server Access
/// Control Lists"): its PDUs and room EDUs in /send, and every room-scoped endpoint (joins, leaves, invites,
/// event, state and history reads). A denied server gets 403 <c>M_FORBIDDEN</c>, as from Synapse.
/// </summary>
public static class RoomServerAcl
{
    public static async Task<bool> AllowsAsync(RoomReader rooms, string roomId, string server, CancellationToken cancellationToken)
    {
        var acl = await rooms.GetCurrentStateAsync(roomId, "m.room.server_acl", "", cancellationToken);
        return acl is not [var row] || ServerAcl.Allows(StoredJson.Parse(row.Json)?["content"] as System.Text.Json.Nodes.JsonObject, server);
    }

    public static async Task RequireAllowedAsync(RoomReader rooms, string roomId, string server, CancellationToken cancellationToken)
    {
        if (!await AllowsAsync(rooms, roomId, server, cancellationToken)) throw MatrixException.Forbidden("Server is banned from this room.");
    }
}
