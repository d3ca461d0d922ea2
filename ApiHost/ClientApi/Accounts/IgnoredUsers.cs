using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Users;

namespace Homeserver.ApiHost.ClientApi.Accounts;

/// <summary>
/// Spec "Ignoring Users": the users in a user's <c>m.ignored_user_list</c>, whose events (state
/// events aside), typing, receipts and invites the server does not send them.
/// </summary>
public sealed class IgnoredUsers(AccountDataStore accountData)
{
    public async Task<IReadOnlySet<string>> OfAsync(string userId)
    {
        var json = await accountData.GetAsync(userId, null, "m.ignored_user_list");
        if (json is null || StoredJson.Parse(json)?["ignored_users"] is not JsonObject ignored) return EmptySet;
        return ignored.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Whether the event reaches the user: state events always do (the room must look the same to everyone).</summary>
    public static bool Shows(IReadOnlySet<string> ignored, RoomEventRow row)
    {
        if (ignored.Count == 0) return true;
        var pdu = StoredJson.Parse(row.Json);
        return pdu?["state_key"] is not null || pdu?["sender"]?.ToString() is not { } sender || !ignored.Contains(sender);
    }

    private static readonly IReadOnlySet<string> EmptySet = new HashSet<string>();
}
