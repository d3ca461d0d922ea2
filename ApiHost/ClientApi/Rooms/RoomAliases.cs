using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;
using Homeserver.Storage.Directory;
using Homeserver.Storage.Rooms;
using Orleans;

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

    /// <summary>
    /// Spec, PUT state <c>m.room.canonical_alias</c>: every alias the event adds (not those it keeps
    /// or removes) must be valid (400 <c>M_INVALID_PARAM</c>) and point to this room (400 <c>M_BAD_ALIAS</c>).
    /// </summary>
    public async Task ValidateCanonicalAliasAsync(string roomId, JsonObject content)
    {
        var current = await CanonicalAliasContentAsync(roomId);
        var present = AliasesOf(current, strict: false).ToHashSet(StringComparer.Ordinal);
        foreach (var text in AliasesOf(content, strict: true).Where(a => !present.Contains(a)))
        {
            if (!RoomAlias.TryParse(text, out var alias)) throw new MatrixException(400, "M_INVALID_PARAM", $"'{text}' is not a valid room alias.");
            if (alias.Server.ToString() != settings.ServerName)
            {
                throw new MatrixException(400, "M_BAD_ALIAS", $"The alias '{text}' is on another server and cannot be checked without federation.");
            }
            if ((await directory.FindAliasAsync(alias.ToString()))?.RoomId != roomId)
            {
                throw new MatrixException(400, "M_BAD_ALIAS", $"The alias '{text}' does not point to this room.");
            }
        }
    }

    private async Task<JsonObject?> CanonicalAliasContentAsync(string roomId) =>
        (await rooms.GetCurrentStateAsync(roomId, "m.room.canonical_alias", "")).FirstOrDefault() is { } row
            ? StoredJson.Parse(row.Json)?["content"] as JsonObject
            : null;

    private static string? AliasText(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;

    private static IEnumerable<string> AliasesOf(JsonObject? content, bool strict)
    {
        if (content is null) yield break;
        switch (content["alias"])
        {
            case null:
                break;
            case var node when AliasText(node) is { } alias:
                yield return alias;
                break;
            default:
                if (strict) throw new MatrixException(400, "M_INVALID_PARAM", "'alias' must be a room alias.");
                break;
        }
        switch (content["alt_aliases"])
        {
            case null:
                break;
            case JsonArray list:
                foreach (var item in list)
                {
                    if (AliasText(item) is { } alt) yield return alt;
                    else if (strict) throw new MatrixException(400, "M_INVALID_PARAM", "'alt_aliases' must list room aliases.");
                }
                break;
            default:
                if (strict) throw new MatrixException(400, "M_INVALID_PARAM", "'alt_aliases' must be a list of room aliases.");
                break;
        }
    }

    /// <summary>
    /// After an alias is deleted, the room's canonical alias event stops naming it (Synapse does so), sent
    /// as the user who deleted it; a user without the power to send it leaves it as it is.
    /// </summary>
    public Task RemoveFromCanonicalAliasAsync(string roomId, string alias, string userId, IGrainFactory grains,
        CancellationToken cancellationToken) =>
        RemoveFromCanonicalAliasAsync(roomId, a => a == alias, userId, grains, cancellationToken);

    /// <summary>The room's canonical alias event without the aliases <paramref name="removes"/> picks, sent if that changes it.</summary>
    public async Task RemoveFromCanonicalAliasAsync(string roomId, Func<string, bool> removes, string userId, IGrainFactory grains,
        CancellationToken cancellationToken)
    {
        if (await CanonicalAliasContentAsync(roomId) is not { } content) return;
        var changed = false;
        if (AliasText(content["alias"]) is { } main && removes(main))
        {
            content.Remove("alias");
            changed = true;
        }
        bool Removed(JsonNode? item) => AliasText(item) is { } alt && removes(alt);
        if (content["alt_aliases"] is JsonArray alts && alts.Any(Removed))
        {
            content["alt_aliases"] = new JsonArray(alts.Where(a => !Removed(a)).Select(a => a?.DeepClone()).ToArray());
            changed = true;
        }
        if (!changed) return;
        try
        {
            await grains.GetGrain<IRoomGrain>(roomId).SendEventAsync(
                new SendEventCommand(userId, "m.room.canonical_alias", "", content, null), cancellationToken);
        }
        catch (MatrixException e) when (e.StatusCode == 403)
        {
            // As in Synapse: the alias is gone either way; a room moderator can tidy the event.
        }
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
