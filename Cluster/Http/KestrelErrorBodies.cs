using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Homeserver.Cluster.Http;

/// <summary>
/// Kestrel answers a request it cannot parse (a malformed request line or header, a NUL in the path, a
/// target or headers far past its limits) itself, before any middleware runs, with an empty body that no
/// Matrix client can read. This connection middleware gives exactly those answers a Matrix error body
/// (and CORS, so a browser client can read it too): Kestrel's own are the only responses the server sends
/// with a 4xx status, <c>Content-Length: 0</c> and <c>Connection: close</c>; every error of the
/// application carries a JSON body.
/// </summary>
public static class KestrelErrorBodies
{
    public static void UseMatrixErrorBodies(this IConnectionBuilder connection) =>
        connection.Use(next => context =>
        {
            var transport = context.Transport;
            var output = PipeWriter.Create(new RewritingStream(transport.Output.AsStream()), new StreamPipeWriterOptions(leaveOpen: false));
            context.Transport = new Duplex(transport.Input, output);
            return next(context);
        });

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    /// <summary>The status line and header block with a Matrix error body, or null when <paramref name="written"/> is not Kestrel's bare refusal.</summary>
    internal static byte[]? Rewrite(ReadOnlySpan<byte> written)
    {
        // "HTTP/1.1 400 Bad Request\r\n...\r\n\r\n": the whole head in one write, and nothing after it.
        if (written.Length < 16 || written.Length > 1024 || !written.StartsWith("HTTP/1."u8) || written[8] != (byte)' ' ||
            !written.EndsWith("\r\n\r\n"u8) || written.IndexOf("\r\nContent-Length: 0\r\n"u8) < 0 || written.IndexOf("\r\nConnection: close\r\n"u8) < 0)
        {
            return null;
        }
        var (errCode, error) = written.Slice(9, 3) switch
        {
            var s when s.SequenceEqual("400"u8) => ("M_UNKNOWN", "The request is not valid HTTP."),
            var s when s.SequenceEqual("413"u8) => ("M_TOO_LARGE", "The request body is too large."),
            var s when s.SequenceEqual("414"u8) => ("M_TOO_LARGE", "The request URI is too long."),
            var s when s.SequenceEqual("431"u8) => ("M_TOO_LARGE", "The request headers are too large."),
            _ => ((string?)null, (string?)null),
        };
        if (errCode is null) return null;
        var body = $$"""{"errcode":"{{errCode}}","error":"{{error}}"}""";
        var head = Encoding.ASCII.GetString(written[..^2]).Replace("\r\nContent-Length: 0\r\n",
            $"\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\n", StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(head + "\r\n" + body);
    }

    /// <summary>
    /// The transport's output as a stream that rewrites a write which is Kestrel's bare refusal, under a
    /// <see cref="PipeWriter"/> of the framework's own (which keeps every buffer contract Kestrel relies on).
    /// The cost is one copy of each response, made once per flush.
    /// </summary>
    private sealed class RewritingStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(Rewrite(buffer.Span) is { } rewritten ? rewritten : buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(Rewrite(buffer.AsSpan(offset, count)) ?? buffer.AsSpan(offset, count));

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}
