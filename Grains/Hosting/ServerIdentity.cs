using Homeserver.Protocol;

namespace Homeserver.Grains.Hosting;

/// <summary>Who this homeserver is: its server name and the Ed25519 key it signs events with.</summary>
public sealed record ServerIdentity(string ServerName, SigningKey SigningKey);
