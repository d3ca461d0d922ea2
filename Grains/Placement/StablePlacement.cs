using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Homeserver.Grains.Placement;

/// <summary>
/// Picks an instance for a key. It must never change: rooms are persisted by the writer this
/// picks, so a different hash would move every room at the next upgrade.
/// </summary>
public static class StablePlacement
{
    public static int Pick(string key, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(hash) % (uint)count);
    }
}
