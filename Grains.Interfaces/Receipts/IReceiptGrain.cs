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
}
