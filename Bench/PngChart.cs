using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Homeserver.Bench;

/// <summary>
/// Latency distributions as a PNG (no imaging library restores here): one cumulative curve per
/// series, latency on a log axis from 0.1 ms to 10 s, share of requests upward. Written by hand:
/// an RGB raster, zlib-compressed scanlines, CRC-checked chunks.
/// </summary>
public static class PngChart
{
    private const int Width = 900, Height = 520, Left = 70, Right = 220, Top = 30, Bottom = 60;
    private static readonly (byte R, byte G, byte B)[] Palette =
        [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127)];

    public static byte[] Render(IReadOnlyList<(string Name, double[] SortedMs)> series)
    {
        var pixels = new byte[Width * Height * 3];
        Array.Fill(pixels, (byte)255);
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double X(double ms) => Left + (Math.Log10(Math.Clamp(ms, 0.1, 10_000)) + 1) / 5 * plotWidth;
        double Y(double share) => Top + (1 - share) * plotHeight;

        // Grid: each decade of latency, each 10% of requests.
        for (var decade = -1; decade <= 4; decade++) Line(pixels, X(Math.Pow(10, decade)), Top, X(Math.Pow(10, decade)), Top + plotHeight, (220, 220, 220));
        for (var tenth = 0; tenth <= 10; tenth++) Line(pixels, Left, Y(tenth / 10.0), Left + plotWidth, Y(tenth / 10.0), (220, 220, 220));
        Line(pixels, Left, Top + plotHeight, Left + plotWidth, Top + plotHeight, (0, 0, 0));
        Line(pixels, Left, Top, Left, Top + plotHeight, (0, 0, 0));
        foreach (var (ms, label) in new[] { (0.1, "0.1"), (1, "1"), (10, "10"), (100, "100"), (1000, "1000"), (10000, "10000 ms") })
        {
            Text(pixels, (int)X(ms) - 6, Top + plotHeight + 8, label, (0, 0, 0));
        }
        foreach (var share in new[] { 0, 50, 90, 100 }) Text(pixels, 20, (int)Y(share / 100.0) - 3, $"{share}%", (0, 0, 0));

        for (var s = 0; s < series.Count; s++)
        {
            var color = Palette[s % Palette.Length];
            var values = series[s].SortedMs;
            for (var i = 1; i < values.Length; i++)
            {
                Line(pixels, X(values[i - 1]), Y((double)i / values.Length), X(values[i]), Y((double)(i + 1) / values.Length), color, thick: true);
            }
            var legendY = Top + 10 + s * 16;
            for (var d = 0; d < 3; d++) Line(pixels, Width - Right + 15, legendY + d, Width - Right + 35, legendY + d, color);
            Text(pixels, Width - Right + 42, legendY - 2, series[s].Name, (0, 0, 0));
        }
        return Encode(pixels);
    }

    private static void Line(byte[] pixels, double x0, double y0, double x1, double y1, (byte R, byte G, byte B) color, bool thick = false)
    {
        var steps = (int)Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0)) + 1;
        for (var i = 0; i <= steps; i++)
        {
            var x = (int)Math.Round(x0 + (x1 - x0) * i / steps);
            var y = (int)Math.Round(y0 + (y1 - y0) * i / steps);
            Set(pixels, x, y, color);
            if (thick) { Set(pixels, x, y + 1, color); Set(pixels, x + 1, y, color); }
        }
    }

    private static void Set(byte[] pixels, int x, int y, (byte R, byte G, byte B) color)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height) return;
        var i = (y * Width + x) * 3;
        (pixels[i], pixels[i + 1], pixels[i + 2]) = color;
    }

    /// <summary>A 3x5 pixel font for digits, letters in labels and a few signs: enough for axes and legend names.</summary>
    private static void Text(byte[] pixels, int x, int y, string text, (byte R, byte G, byte B) color)
    {
        foreach (var c in text.ToLowerInvariant())
        {
            if (Glyphs.TryGetValue(c, out var rows))
            {
                for (var row = 0; row < 5; row++)
                {
                    for (var col = 0; col < 3; col++)
                    {
                        if ((rows[row] >> (2 - col) & 1) == 1) { Set(pixels, x + col * 2, y + row * 2, color); Set(pixels, x + col * 2 + 1, y + row * 2, color); Set(pixels, x + col * 2, y + row * 2 + 1, color); Set(pixels, x + col * 2 + 1, y + row * 2 + 1, color); }
                    }
                }
            }
            x += 8;
        }
    }

    private static readonly Dictionary<char, int[]> Glyphs = new()
    {
        ['0'] = [7, 5, 5, 5, 7], ['1'] = [2, 6, 2, 2, 7], ['2'] = [7, 1, 7, 4, 7], ['3'] = [7, 1, 7, 1, 7], ['4'] = [5, 5, 7, 1, 1],
        ['5'] = [7, 4, 7, 1, 7], ['6'] = [7, 4, 7, 5, 7], ['7'] = [7, 1, 1, 1, 1], ['8'] = [7, 5, 7, 5, 7], ['9'] = [7, 5, 7, 1, 7],
        ['.'] = [0, 0, 0, 0, 2], ['%'] = [5, 1, 2, 4, 5], ['-'] = [0, 0, 7, 0, 0], ['_'] = [0, 0, 0, 0, 7], [' '] = [0, 0, 0, 0, 0],
        ['a'] = [2, 5, 7, 5, 5], ['b'] = [6, 5, 6, 5, 6], ['c'] = [7, 4, 4, 4, 7], ['d'] = [6, 5, 5, 5, 6], ['e'] = [7, 4, 6, 4, 7],
        ['f'] = [7, 4, 6, 4, 4], ['g'] = [7, 4, 5, 5, 7], ['h'] = [5, 5, 7, 5, 5], ['i'] = [7, 2, 2, 2, 7], ['j'] = [1, 1, 1, 5, 7],
        ['k'] = [5, 5, 6, 5, 5], ['l'] = [4, 4, 4, 4, 7], ['m'] = [5, 7, 7, 5, 5], ['n'] = [6, 5, 5, 5, 5], ['o'] = [7, 5, 5, 5, 7],
        ['p'] = [7, 5, 7, 4, 4], ['q'] = [7, 5, 5, 7, 1], ['r'] = [6, 5, 6, 5, 5], ['s'] = [7, 4, 7, 1, 7], ['t'] = [7, 2, 2, 2, 2],
        ['u'] = [5, 5, 5, 5, 7], ['v'] = [5, 5, 5, 5, 2], ['w'] = [5, 5, 7, 7, 5], ['x'] = [5, 5, 2, 5, 5], ['y'] = [5, 5, 2, 2, 2],
        ['z'] = [7, 1, 2, 4, 7], ['/'] = [1, 1, 2, 4, 4], ['('] = [1, 2, 2, 2, 1], [')'] = [4, 2, 2, 2, 4],
    };

    private static byte[] Encode(byte[] rgb)
    {
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (var y = 0; y < Height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(rgb, y * Width * 3, Width * 3);
            }
        }
        using var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Height);
        header[8] = 8; // bit depth
        header[9] = 2; // truecolour
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(length, Crc32([.. typeBytes, .. data]));
        png.Write(length);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
