using Orleans;
using Orleans.Placement;

namespace Homeserver.Grains.Interfaces.Typing;

/// <summary>
/// Who is typing in one room (key: room ID). Ephemeral, in memory on the <c>stream_writers.typing</c>
/// instance; every change goes out on the <c>typing</c> stream.
/// </summary>
[WriterPlacement(StreamNames.Typing)]
public interface ITypingGrain : IGrainWithStringKey
{
    Task SetTypingAsync(string userId, bool typing, int timeoutMs);
}

/// <summary>A row of the typing stream: the full set of users typing in a room after a change.</summary>
[GenerateSerializer]
public sealed record TypingStreamRow(string RoomId, IReadOnlyList<string> UserIds);
