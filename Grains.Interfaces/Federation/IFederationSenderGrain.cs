using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.Federation;

/// <summary>An event already persisted, to send to a destination; the sender loads its signed JSON itself.</summary>
[GenerateSerializer, Immutable, Alias("OutboundPdu")]
public sealed record OutboundPdu([property: Id(0)] string RoomId, [property: Id(1)] string EventId, [property: Id(2)] long StreamOrdering);

/// <summary>An ephemeral data unit for a destination (typing, receipts, presence, device messages...).</summary>
[GenerateSerializer, Immutable, Alias("Edu")]
public sealed record Edu([property: Id(0)] string EduType, [property: Id(1)] JsonObject Content);

/// <summary>What a sender holds and whether it is waiting out a backoff (for metrics and tests).</summary>
[GenerateSerializer, Immutable, Alias("FederationSenderStatus")]
public sealed record FederationSenderStatus(
    [property: Id(0)] int PendingPdus,
    [property: Id(1)] int PendingEdus,
    [property: Id(2)] bool BackingOff,
    [property: Id(3)] bool CatchingUp,
    [property: Id(4)] long RetryAtMs);

/// <summary>
/// Outbound federation to one server (key: its server name): batches PDUs and EDUs into transactions
/// (<c>PUT /_matrix/federation/v1/send/{txnId}</c>), one in flight at a time, and backs off from a server
/// that fails, catching it up with the latest event of each room once it is back. Lives on the
/// <c>federation_sender_instances</c> the destination hashes to.
/// </summary>
[Alias("IFederationSenderGrain")]
public interface IFederationSenderGrain : IGrainWithStringKey
{
    Task EnqueuePdusAsync(IReadOnlyList<OutboundPdu> pdus, CancellationToken cancellationToken = default);

    Task EnqueueEduAsync(Edu edu, CancellationToken cancellationToken = default);

    /// <summary>The destination is reachable again (it contacted us): stop backing off and catch it up now.</summary>
    Task ResetBackoffAsync(CancellationToken cancellationToken = default);

    /// <summary>Looks for work left in PostgreSQL (after a restart), respecting any backoff.</summary>
    Task WakeAsync(CancellationToken cancellationToken = default);

    Task<FederationSenderStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}
