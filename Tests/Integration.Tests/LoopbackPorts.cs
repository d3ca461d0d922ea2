using System.Net;
using System.Net.Sockets;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Free TCP ports on loopback for the servers a test starts. They come from 12000-21999: below Linux's
/// ephemeral range (32768-60999) and below the ranges Orleans' TestCluster allocates silo ports from
/// (22300-29999, 40000-49999). A port the kernel picked for a listener and released could be taken by any
/// outgoing connection (to PostgreSQL, between silos) before the server bound it, which failed whole
/// test classes with "address already in use". Each port is handed out once per process; the start
/// is random so that test processes running side by side rarely meet, and a port in use is skipped.
/// </summary>
public static class LoopbackPorts
{
    private const int First = 12_000;
    private const int Count = 10_000;
    private static int _next = Random.Shared.Next(Count);

    public static int Free()
    {
        for (var attempt = 0; attempt < Count; attempt++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use: the next one.
            }
        }
        throw new InvalidOperationException("No free loopback port below the ephemeral range.");
    }
}
