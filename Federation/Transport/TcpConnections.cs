using System.Net;
using System.Net.Sockets;

namespace Homeserver.Federation.Transport;

/// <summary>A TCP connection to the first of some already-checked addresses that answers, each tried within its own time limit.</summary>
public static class TcpConnections
{
    /// <summary>The connection, or null with why each address failed (a refusal, a timeout).</summary>
    public static async Task<(NetworkStream? Stream, IReadOnlyList<string> Failures)> ConnectFirstAsync(IReadOnlyList<IPAddress> addresses, int port,
        TimeSpan perAttempt, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(perAttempt);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), attempt.Token);
                return (new NetworkStream(socket, ownsSocket: true), failures);
            }
            catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                socket.Dispose();
                failures.Add($"{address}: {(e is SocketException s ? s.SocketErrorCode.ToString() : "timed out")}");
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        return (null, failures);
    }
}
