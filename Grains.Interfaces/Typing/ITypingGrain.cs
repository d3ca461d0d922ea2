using Orleans;

namespace Homeserver.Grains.Interfaces.Typing;

/// <summary>
/// Who is typing in one room (key: room ID). Ephemeral, in memory on the <c>stream_writers.typing</c>
/// instance; every change goes out on the <c>typing</c> stream.
/// </summary>
[Alias("ITypingGrain")]
public interface ITypingGrain : IGrainWithStringKey
{
    Task SetTypingAsync(string userId, bool typing, int timeoutMs, CancellationToken cancellationToken = default);
}

/// <summary>A row of the typing stream: the full set of users typing in a room after a change.</summary>
[GenerateSerializer, Immutable, Alias("TypingStreamRow")]
public sealed record TypingStreamRow([property: Id(0)] string RoomId, [property: Id(1)] IReadOnlyList<string> UserIds);
