using System.Globalization;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Rooms;

/// <summary>
/// Pagination tokens within one room: <c>r&lt;n&gt;</c> is the boundary before the room's event at
/// position n, so paging backwards from it returns events before n and forwards returns n onwards.
/// Positions of history fetched from other servers (backfill) are zero or negative.
/// </summary>
internal static class RoomTokens
{
    public static string Format(long boundary) => "r" + boundary.ToString(CultureInfo.InvariantCulture);

    public static long Parse(string token, string name) =>
        token.StartsWith('r') && long.TryParse(token.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new MatrixException(400, "M_INVALID_PARAM", $"'{name}' is not a pagination token of this server.");

    /// <summary>
    /// A room token, or a /sync token (clients page from a sync's <c>next_batch</c> and ask for the members
    /// <c>at</c> one, as the spec allows): then the boundary after the room's last event at or before the
    /// sync token's events position.
    /// </summary>
    public static async Task<long> BoundaryAsync(RoomReader rooms, string roomId, string token, string name) =>
        token.StartsWith('s') ? await rooms.GetBoundaryAtAsync(roomId, Sync.SyncToken.Parse(token, name).Events) : Parse(token, name);

    /// <summary>The pagination direction: backwards unless <c>dir=f</c>; given but empty or anything else is refused, as Synapse does.</summary>
    public static bool Backwards(Microsoft.AspNetCore.Http.IQueryCollection query)
    {
        var dir = query.ContainsKey("dir") ? query["dir"].ToString() : "b";
        return dir switch
        {
            "b" => true,
            "f" => false,
            _ => throw new MatrixException(400, "M_INVALID_PARAM", "'dir' must be b or f."),
        };
    }

    public static int Limit(string? text, int fallback, int max)
    {
        if (string.IsNullOrEmpty(text)) return fallback;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit)
            ? Math.Min(limit, max)
            : throw new MatrixException(400, "M_INVALID_PARAM", "'limit' must be a non-negative integer.");
    }
}
