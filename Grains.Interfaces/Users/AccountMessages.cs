using Orleans;

namespace Homeserver.Grains.Interfaces.Users;

/// <summary>
/// Creates the account; with <paramref name="IssueSession"/> also its first device and access token.
/// A guest (<paramref name="IsGuest"/>) has no password and only the spec's guest subset of the API.
/// </summary>
[GenerateSerializer, Immutable, Alias("RegisterCommand")]
public sealed record RegisterCommand([property: Id(0)] string? PasswordHash, [property: Id(1)] bool IsAdmin, [property: Id(2)] string? DisplayName, [property: Id(3)] bool IssueSession,
    [property: Id(4)] string? DeviceId, [property: Id(5)] string? DeviceDisplayName, [property: Id(6)] bool IsGuest = false);

/// <summary>Makes a guest a full account with this password; with <paramref name="IssueSession"/> also a new device and access token.</summary>
[GenerateSerializer, Immutable, Alias("UpgradeGuestCommand")]
public sealed record UpgradeGuestCommand([property: Id(0)] string PasswordHash, [property: Id(1)] bool IssueSession,
    [property: Id(2)] string? DeviceId, [property: Id(3)] string? DeviceDisplayName);

[GenerateSerializer, Immutable, Alias("Registration")]
public sealed record Registration([property: Id(0)] string UserId, [property: Id(1)] string? DeviceId, [property: Id(2)] string? AccessToken);

[GenerateSerializer, Immutable, Alias("StartSessionCommand")]
public sealed record StartSessionCommand([property: Id(0)] string? DeviceId, [property: Id(1)] string? DeviceDisplayName);

[GenerateSerializer, Immutable, Alias("Session")]
public sealed record Session([property: Id(0)] string UserId, [property: Id(1)] string DeviceId, [property: Id(2)] string AccessToken);

/// <summary>A pusher as /pushers/set describes it (kind "http"; data holds the gateway url and format).</summary>
[GenerateSerializer, Immutable, Alias("PusherSettings")]
public sealed record PusherSettings([property: Id(0)] string AppId, [property: Id(1)] string Pushkey, [property: Id(2)] string Kind, [property: Id(3)] string AppDisplayName, [property: Id(4)] string DeviceDisplayName, [property: Id(5)] string? ProfileTag,
    [property: Id(6)] string Lang, [property: Id(7)] System.Text.Json.Nodes.JsonObject Data, [property: Id(8)] string? DeviceId);
