using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A tiny authoritative DNS server on 127.0.0.1 (UDP) answering A, AAAA and SRV from a table the test
/// fills, NXDOMAIN for names it has nothing for, and counting the questions it gets.
/// </summary>
public sealed class LoopbackDnsServer : IAsyncDisposable
{
    private const ushort A = 1;
    private const ushort Aaaa = 28;
    private const ushort Srv = 33;

    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly ConcurrentDictionary<(string Name, ushort Type), List<(byte[] Data, uint Ttl)>> _records = new();
    private readonly ConcurrentDictionary<(string Name, ushort Type), int> _questions = new();
    private readonly ConcurrentDictionary<string, bool> _failing = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    public LoopbackDnsServer() => _serving = ServeAsync();

    public IPEndPoint EndPoint => (IPEndPoint)_udp.Client.LocalEndPoint!;

    public void AddAddress(string name, IPAddress address, uint ttl = 300) =>
        Add(name, address.AddressFamily == AddressFamily.InterNetwork ? A : Aaaa, address.GetAddressBytes(), ttl);

    public void AddSrv(string name, string target, int port, int priority = 10, int weight = 0, uint ttl = 300)
    {
        var data = new List<byte>();
        data.AddRange(BigEndian((ushort)priority));
        data.AddRange(BigEndian((ushort)weight));
        data.AddRange(BigEndian((ushort)port));
        data.AddRange(EncodeName(target));
        Add(name, Srv, [.. data], ttl);
    }

    /// <summary>Answers every question about <paramref name="name"/> with SERVFAIL (or normally again).</summary>
    public void SetFailing(string name, bool failing) => _failing[name.ToLowerInvariant()] = failing;

    public int SrvQuestions(string name) => _questions.GetValueOrDefault((name.ToLowerInvariant(), Srv));

    public int AllQuestions => _questions.Values.Sum();

    private void Add(string name, ushort type, byte[] data, uint ttl) =>
        _records.GetOrAdd((name.ToLowerInvariant(), type), _ => []).Add((data, ttl));

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult query;
            try
            {
                query = await _udp.ReceiveAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            if (Answer(query.Buffer) is { } answer) await _udp.SendAsync(answer, query.RemoteEndPoint);
        }
    }

    private byte[]? Answer(byte[] query)
    {
        if (query.Length < 12) return null;
        var position = 12;
        var labels = new List<string>();
        while (position < query.Length && query[position] != 0)
        {
            int length = query[position];
            labels.Add(Encoding.ASCII.GetString(query, position + 1, length));
            position += length + 1;
        }
        position++;
        if (position + 4 > query.Length) return null;
        var questionEnd = position + 4;
        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(position));
        var name = string.Join('.', labels).ToLowerInvariant();
        _questions.AddOrUpdate((name, type), 1, (_, n) => n + 1);

        var failing = _failing.GetValueOrDefault(name);
        var known = _records.Keys.Any(k => k.Name == name);
        var answers = !failing && _records.TryGetValue((name, type), out var list) ? list : [];
        var response = new List<byte>();
        response.AddRange(query.AsSpan(0, 2).ToArray());
        // QR, AA, RD copied, RA; RCODE 2 (SERVFAIL) when told to fail, 3 (NXDOMAIN) for a name the table does not have at all.
        response.Add((byte)(0x84 | (query[2] & 0x01)));
        response.Add((byte)(0x80 | (failing ? 2 : known ? 0 : 3)));
        response.AddRange(BigEndian(1));
        response.AddRange(BigEndian((ushort)answers.Count));
        response.AddRange(BigEndian(0));
        response.AddRange(BigEndian(0));
        response.AddRange(query.AsSpan(12, questionEnd - 12).ToArray());
        foreach (var (data, ttl) in answers)
        {
            response.AddRange([0xC0, 0x0C]);
            response.AddRange(BigEndian(type));
            response.AddRange(BigEndian(1));
            var ttlBytes = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(ttlBytes, ttl);
            response.AddRange(ttlBytes);
            response.AddRange(BigEndian((ushort)data.Length));
            response.AddRange(data);
        }
        return [.. response];
    }

    private static byte[] BigEndian(ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] EncodeName(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        await _serving;
        _stop.Dispose();
    }
}
