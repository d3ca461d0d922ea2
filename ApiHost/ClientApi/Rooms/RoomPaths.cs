using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;

namespace Homeserver.ApiHost.ClientApi.Rooms;

internal static class RoomPaths
{
    public static string RoomIdFrom(string text) => RoomId.TryParse(text, out var id)
        ? id.ToString()
        : throw new MatrixException(400, "M_INVALID_PARAM", $"'{text}' is not a valid room ID.");

    public static string UserIdFrom(string? text, string field = "user_id") => text is null
        ? throw new MatrixException(400, "M_MISSING_PARAM", $"'{field}' is missing.")
        : UserId.TryParse(text, out var id) ? id.ToString() : throw new MatrixException(400, "M_INVALID_PARAM", $"'{text}' is not a valid user ID.");
}
