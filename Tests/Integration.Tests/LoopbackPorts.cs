using System.Net;
using System.Net.Sockets;

namespace Homeserver.Tests.Integration;

/// <summary>Free TCP ports on loopback for the servers a test starts.</summary>
public static class LoopbackPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
