using Orleans;

namespace Homeserver.Grains.Interfaces.Receipts;

/// <summary>Writer of one user's read receipts (key: user ID), on the <c>receipts</c> writers.</summary>
[Alias("IReceiptGrain")]
public interface IReceiptGrain : IGrainWithStringKey
{
    /// <summary>
    /// Moves the user's <paramref name="receiptType"/> receipt (m.read or m.read.private) in the room to
    /// <paramref name="eventId"/>, for one thread or (null) the whole room; a receipt never moves backwards.
    /// </summary>
    Task SendReceiptAsync(string roomId, string receiptType, string eventId, string? threadId, CancellationToken cancellationToken = default);

    /// <summary>
    /// A public receipt of this remote user that their server sent (an <c>m.receipt</c> EDU), at the latest of
    /// <paramref name="eventIds"/> the room holds; dropped when the user is not joined or no event is known.
    /// </summary>
    Task ReceiveRemoteReceiptAsync(string roomId, IReadOnlyList<string> eventIds, string? threadId, long ts, CancellationToken cancellationToken = default);
}
