using System.Text.Json.Nodes;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

public static class MemberProfile
{
    /// <summary>
    /// The user's profile (displayname and avatar_url, where set) added to their own membership content,
    /// as a join, a knock and a room creator's join carry it (Synapse does the same).
    /// </summary>
    public static async Task<JsonObject> AddProfileAsync(this RoomReader rooms, string userId, JsonObject content)
    {
        var (displayName, avatarUrl) = await rooms.GetProfileAsync(userId);
        if (displayName is not null) content["displayname"] = displayName;
        if (avatarUrl is not null) content["avatar_url"] = avatarUrl;
        return content;
    }
}
