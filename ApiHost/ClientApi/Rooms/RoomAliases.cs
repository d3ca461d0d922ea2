using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>Resolves room IDs or local aliases, and reads a room's power levels for permission checks outside the grain.</summary>
public sealed class RoomAliases(DirectoryStore directory, RoomReader rooms, ProcessSettings settings)
{
    public async Task<string> ResolveAsync(string roomIdOrAlias)
    {
        if (!roomIdOrAlias.StartsWith('#')) return RoomPaths.RoomIdFrom(roomIdOrAlias);
        var alias = LocalAlias(roomIdOrAlias);
        return (await directory.FindAliasAsync(alias))?.RoomId ?? throw MatrixException.NotFound($"Room alias {alias} not found.");
    }

    /// <summary>A valid alias on this server; aliases of other servers need federation.</summary>
    public string LocalAlias(string text)
    {
        if (!RoomAlias.TryParse(text, out var alias)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{text}' is not a valid room alias.");
        if (alias.Server.ToString() != settings.ServerName)
        {
            throw new MatrixException(400, "M_INVALID_PARAM", "Room aliases on other servers cannot be used without federation.");
        }
        return alias.ToString();
    }

    public async Task<PowerLevels> PowerLevelsAsync(string roomId)
    {
        var (state, version) = await CurrentAuthStateAsync(roomId);
        return state.PowerLevels(version);
    }

    /// <summary>The room's current state as the auth rules see it, read from PostgreSQL, with the room version.</summary>
    public async Task<(RoomAuthState State, RoomVersion Version)> CurrentAuthStateAsync(string roomId)
    {
        var versionId = await rooms.GetRoomVersionAsync(roomId) ?? throw MatrixException.NotFound("Unknown room.");
        RoomVersions.TryGet(versionId, out var version);
        var state = new Dictionary<(string, string), JsonObject>();
        foreach (var row in await rooms.GetCurrentStateAsync(roomId))
        {
            var pdu = StoredJson.Parse(row.Json)!.AsObject();
            state[(pdu["type"]!.GetValue<string>(), pdu["state_key"]?.GetValue<string>() ?? "")] = pdu;
        }
        return (new RoomAuthState(state), version!);
    }
}
