using Orleans;

namespace Homeserver.Grains.Interfaces.Users;

/// <summary>Creates the account; with <paramref name="IssueSession"/> also its first device and access token.</summary>
[GenerateSerializer]
public sealed record RegisterCommand(string? PasswordHash, bool IsAdmin, string? DisplayName, bool IssueSession,
    string? DeviceId, string? DeviceDisplayName);

[GenerateSerializer]
public sealed record Registration(string UserId, string? DeviceId, string? AccessToken);

[GenerateSerializer]
public sealed record StartSessionCommand(string? DeviceId, string? DeviceDisplayName);

[GenerateSerializer]
public sealed record Session(string UserId, string DeviceId, string AccessToken);
