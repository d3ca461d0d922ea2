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

/// <summary>A pusher as /pushers/set describes it (kind "http"; data holds the gateway url and format).</summary>
[GenerateSerializer]
public sealed record PusherSettings(string AppId, string Pushkey, string Kind, string AppDisplayName, string DeviceDisplayName, string? ProfileTag,
    string Lang, System.Text.Json.Nodes.JsonObject Data);
