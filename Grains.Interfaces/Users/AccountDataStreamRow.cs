using Orleans;

namespace Homeserver.Grains.Interfaces.Users;

/// <summary>A row of the <c>account_data</c> stream: which user's data of which type changed.</summary>
[GenerateSerializer, Immutable, Alias("AccountDataStreamRow")]
public sealed record AccountDataStreamRow([property: Id(0)] string UserId, [property: Id(1)] string? RoomId, [property: Id(2)] string Type);
