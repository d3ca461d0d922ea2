namespace Homeserver.Federation.Discovery;

/// <summary>A lookup's answer and the time until which it may be used.</summary>
public readonly record struct Timed<T>(T Value, DateTimeOffset Expires);
