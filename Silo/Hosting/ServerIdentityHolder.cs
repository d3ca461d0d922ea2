using Homeserver.Grains.Hosting;

namespace Homeserver.Silo.Hosting;

/// <summary>Filled at start-up, once the signing key has been read from (or stored in) the database.</summary>
public sealed class ServerIdentityHolder
{
    private ServerIdentity? _identity;

    public ServerIdentity Identity
    {
        get => _identity ?? throw new InvalidOperationException("The server identity is read at start-up; the process has not started yet.");
        set => _identity = value;
    }
}
