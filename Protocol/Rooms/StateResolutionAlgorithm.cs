namespace Homeserver.Protocol;

/// <summary>The state resolution algorithm a room version uses.</summary>
public enum StateResolutionAlgorithm
{
    /// <summary>The original algorithm (room version 1 only).</summary>
    V1,

    /// <summary>State resolution v2 (room versions 2 to 11).</summary>
    V2,
}
