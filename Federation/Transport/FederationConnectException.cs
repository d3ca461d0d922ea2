namespace Homeserver.Federation.Transport;

/// <summary>
/// A connection that was never made: DNS, the IP limits, TCP or the TLS handshake. Nothing was sent, so
/// the client may try the next target; <see cref="Refused"/> says the configured limits stopped it.
/// </summary>
public sealed class FederationConnectException(string message, bool refused = false, Exception? inner = null) : Exception(message, inner)
{
    public bool Refused { get; } = refused;
}
