using Orleans;

namespace Homeserver.Grains.Interfaces.Errors;

/// <summary>
/// A failure with a Matrix errcode that a grain reports to its caller; the API host turns it into
/// the HTTP response. Orleans' generated codec carries it across processes with its status and errcode.
/// </summary>
[GenerateSerializer, Alias("MatrixException")]
public sealed class MatrixException(int statusCode, string errCode, string error) : Exception(error)
{
    [Id(0)] public int StatusCode { get; } = statusCode;
    [Id(1)] public string ErrCode { get; } = errCode;
    [Id(2)] public string Error { get; } = error;

    public static MatrixException Forbidden(string error) => new(403, "M_FORBIDDEN", error);
    public static MatrixException NotFound(string error) => new(404, "M_NOT_FOUND", error);
    public static MatrixException BadJson(string error) => new(400, "M_BAD_JSON", error);
    public static MatrixException RoomInUse(string error) => new(400, "M_ROOM_IN_USE", error);

    /// <summary>The room's writer moved or is unavailable: the client should retry.</summary>
    public static MatrixException Unavailable(string error) => new(503, "M_UNKNOWN", error);
}
