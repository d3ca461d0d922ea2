using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Accounts;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// The room's side of guest access (spec "Guest Access", server behaviour): a guest joins only while
/// the room's <c>m.room.guest_access</c> is <c>can_join</c>, and when it stops being so, the room's
/// local guests leave. Guests are a local notion the auth rules know nothing of (Synapse checks them
/// outside its auth too), so the room grain enforces it in its own turn: a join and a change of
/// guest access can never interleave, and every way of joining (the membership endpoints, a member
/// state event, a profile update) passes here.
/// </summary>
internal static class GuestMembership
{
    public static bool GuestsCanJoin(RoomState state) =>
        state.Current("m.room.guest_access", "")?.Pdu["content"] is JsonObject content && GuestsCanJoin(content);

    public static bool GuestsCanJoin(JsonObject guestAccessContent) =>
        guestAccessContent["guest_access"] is JsonValue value && value.TryGetValue<string>(out var access) && access == "can_join";

    /// <summary>403 when <paramref name="userId"/>, not yet joined, is a guest and the room does not let guests join.</summary>
    public static async Task RequireMayJoinAsync(RoomState state, AccountStore accounts, string userId)
    {
        if (state.AuthState.Membership(userId) == "join" || GuestsCanJoin(state)) return;
        if ((await accounts.GuestsAmongAsync([userId])).Count > 0)
        {
            throw MatrixException.Forbidden("Guest access is not allowed in this room.");
        }
    }

    /// <summary>
    /// The leaves that go with a guest access event that closes the room to guests: each joined or
    /// invited local guest leaves on their own account (as Synapse has them do, so no power level is needed).
    /// </summary>
    public static async Task<IReadOnlyList<RoomEventDraft>> LeavesForAsync(RoomState state, AccountStore accounts, JsonObject guestAccessContent)
    {
        if (GuestsCanJoin(guestAccessContent)) return [];
        var members = state.AuthState.Members("join").Concat(state.AuthState.Members("invite")).ToList();
        var guests = await accounts.GuestsAmongAsync(members);
        return guests.Select(guest => new RoomEventDraft(guest, "m.room.member", guest, new JsonObject { ["membership"] = "leave" })).ToList();
    }
}
