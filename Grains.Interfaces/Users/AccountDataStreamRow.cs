using Orleans;

namespace Homeserver.Grains.Interfaces.Users;

/// <summary>A row of the <c>account_data</c> stream: which user's data of which type changed.</summary>
[GenerateSerializer]
public sealed record AccountDataStreamRow(string UserId, string? RoomId, string Type);
