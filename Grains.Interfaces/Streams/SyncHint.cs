using Orleans;
using Orleans.Runtime;

namespace Homeserver.Grains.Interfaces.Streams;

/// <summary>
/// "<see cref="Stream"/> moved to <see cref="Position"/> for this room (or user)": a wake-up call
/// for the /sync requests that care, published on the room's or user's own stream so that an API
/// host hears only about the rooms and users it serves. Hints are at most once (no catch-up):
/// the woken sync reads the data itself from PostgreSQL, so a lost hint costs latency, never an
/// event.
/// </summary>
[GenerateSerializer, Immutable, Alias("SyncHint")]
public sealed record SyncHint([property: Id(0)] string Stream, [property: Id(1)] long Position);

/// <summary>The streams that carry <see cref="SyncHint"/>s: one per room and one per user.</summary>
public static class SyncHintStreams
{
    public const string Namespace = "sync";

    /// <summary>Events, receipts, and the presence and device-list changes of the room's members.</summary>
    public static StreamId Room(string roomId) => StreamId.Create(Namespace, "room:" + roomId);

    /// <summary>The user's own account data, to-device messages, push rules and membership changes.</summary>
    public static StreamId User(string userId) => StreamId.Create(Namespace, "user:" + userId);
}
