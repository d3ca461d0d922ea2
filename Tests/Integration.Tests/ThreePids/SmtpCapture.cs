using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using MimeKit;

namespace Homeserver.Tests.Integration.ThreePids;

/// <summary>
/// A minimal SMTP server on loopback that keeps every message it is given (RFC 5321's EHLO, MAIL,
/// RCPT, DATA, RSET, NOOP, QUIT; no TLS or AUTH, which it does not advertise). With
/// <see cref="Refuse"/> it answers MAIL FROM with a permanent failure, as a mail server that rejects
/// the sender would.
/// </summary>
public sealed class SmtpCapture : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<MimeMessage> _messages = Channel.CreateUnbounded<MimeMessage>();
    private readonly List<MimeMessage> _received = [];
    private readonly Task _accepting;

    public SmtpCapture()
    {
        Port = LoopbackPorts.Free();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>When set, every MAIL FROM is refused with 550.</summary>
    public bool Refuse { get; set; }

    /// <summary>How many messages arrived so far.</summary>
    public int Count
    {
        get
        {
            lock (_received) return _received.Count;
        }
    }

    /// <summary>Every message so far to <paramref name="address"/>.</summary>
    public IReadOnlyList<MimeMessage> To(string address)
    {
        lock (_received) return _received.Where(m => m.To.Mailboxes.Any(b => b.Address == address)).ToList();
    }

    /// <summary>The next message to <paramref name="address"/> beyond the <paramref name="already"/> ones seen; waits up to 30 seconds.</summary>
    public async Task<MimeMessage> NextToAsync(string address, int already = 0)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (To(address).Count <= already)
        {
            await _messages.Reader.WaitToReadAsync(timeout.Token);
            _messages.Reader.TryRead(out _);
        }
        return To(address)[already];
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.Latin1);
            await using var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
            await writer.WriteLineAsync("220 capture.test ESMTP");
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line.ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await writer.WriteLineAsync("250-capture.test");
                        await writer.WriteLineAsync("250 8BITMIME");
                        break;
                    case "HELO":
                        await writer.WriteLineAsync("250 capture.test");
                        break;
                    case "MAIL":
                        await writer.WriteLineAsync(Refuse ? "550 5.7.1 Sender refused" : "250 OK");
                        break;
                    case "RCPT":
                        await writer.WriteLineAsync("250 OK");
                        break;
                    case "DATA":
                        await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                        var data = new StringBuilder();
                        while (await reader.ReadLineAsync(_stop.Token) is { } dataLine && dataLine != ".")
                        {
                            // Undo the sender's dot-stuffing.
                            data.Append(dataLine.StartsWith("..", StringComparison.Ordinal) ? dataLine[1..] : dataLine).Append("\r\n");
                        }
                        var message = await MimeMessage.LoadAsync(new MemoryStream(Encoding.Latin1.GetBytes(data.ToString())));
                        lock (_received) _received.Add(message);
                        _messages.Writer.TryWrite(message);
                        await writer.WriteLineAsync("250 OK: queued");
                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 Bye");
                        return;
                    default:
                        await writer.WriteLineAsync(verb is "RSET" or "NOOP" ? "250 OK" : "502 Command not implemented");
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client hung up or the capture is stopping.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
