using Homeserver.Configuration;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Grains.Placement;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;
using Orleans;
using Orleans.Runtime;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Outbound federation to one destination, as Synapse's per-destination queue does it.
///
/// One send loop per activation runs beside the grain's calls (it interleaves with them at its awaits,
/// on the activation's scheduler, so state needs no locks): it takes up to 50 PDUs and 100 EDUs, loads
/// the PDUs' signed JSON, PUTs one transaction and waits for the answer before the next, so at most one
/// transaction is in flight per destination.
///
/// Every enqueued PDU is also recorded in <c>destination_rooms</c> (the latest per room). When a
/// transaction fails, the destination's backoff grows and is written to <c>destinations</c>, the
/// in-memory PDU queue is dropped, and the sender is "catching up": new PDUs are only recorded, and once
/// the backoff is over (or the destination contacted us) the latest event of each room newer than the
/// last acknowledged stream ordering is sent; the remote fills gaps with /get_missing_events. A new
/// activation starts catching up too, so whatever a restart interrupted is found in PostgreSQL.
///
/// EDUs come from two places. Typing, receipts and presence wait in memory (<see cref="EduQueue"/>) and are
/// dropped after a long backoff, as in Synapse. To-device messages and device-list updates wait in PostgreSQL
/// (<see cref="FederationOutboxStore"/>): each transaction takes the oldest rows first (device-list updates
/// before to-device messages, so a new device is known before a message to it), and they are deleted only
/// once the destination answered; after a failure they are read again when the backoff ends, by this
/// activation or the next. Whoever writes rows wakes the grain; a wake counter stops it looking again
/// once it saw the outbox empty, and a wake during a read makes it look once more.
/// </summary>
[WriterPlacement(WriterPlacementAttribute.FederationSenderRole)]
public sealed class FederationSenderGrain(
    DestinationStore store,
    FederationOutboxStore outbox,
    IFederationClient federation,
    ServerIdentity server,
    FederationSenderOptions options,
    FederationSenderMetrics metrics,
    TimeProvider clock,
    FederationSenderLog log) : Grain, IFederationSenderGrain
{
    /// <summary>Beyond this backoff, queued EDUs are stale and dropped (Synapse's CATCHUP_RETRY_INTERVAL).</summary>
    private const long EduDropIntervalMs = 60 * 60 * 1000;

    /// <summary>Device-list updates one transaction carries at most, so to-device messages are never starved by a burst.</summary>
    private const int MaxDeviceListEdus = FederationTransaction.MaxEdus / 2;

    private readonly List<OutboundPdu> _pdus = [];
    private EduQueue _edus = null!;
    private DestinationRecord _destination = null!;
    private bool _catchingUp = true;
    private long _lastSkipped;
    private bool _sending;
    private IGrainTimer? _retry;
    // A new activation looks at the outbox once; every wake asks for another look.
    private long _outboxWakes = 1;
    private long _outboxLooked;

    private bool OutboxMayHaveRows => _outboxLooked < _outboxWakes;

    private string Destination => this.GetPrimaryKeyString();

    private long NowMs => clock.GetUtcNow().ToUnixTimeMilliseconds();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _edus = new EduQueue(options.MaxQueuedEdus);
        _destination = await store.GetAsync(Destination, cancellationToken);
        Publish();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.Forget(Destination);
        return Task.CompletedTask;
    }

    public async Task EnqueuePdusAsync(IReadOnlyList<OutboundPdu> pdus, CancellationToken cancellationToken = default)
    {
        if (pdus.Count == 0) return;
        await store.RecordRoomsAsync(Destination, pdus.GroupBy(p => p.RoomId).Select(g => (g.Key, g.Max(p => p.StreamOrdering))).ToList(),
            cancellationToken);
        // While catching up, PostgreSQL has them; with nothing ever acknowledged there is no catch-up point yet, so they queue.
        if (!_catchingUp || _destination.LastSuccessfulStreamOrdering is null) _pdus.AddRange(pdus);
        else _lastSkipped = Math.Max(_lastSkipped, pdus.Max(p => p.StreamOrdering));
        Publish();
        Kick();
    }

    public Task EnqueueEduAsync(Edu edu, CancellationToken cancellationToken = default)
    {
        var dropped = _edus.Add(edu);
        if (dropped > 0) log.EdusDropped(Destination, dropped);
        Kick();
        return Task.CompletedTask;
    }

    public async Task ResetBackoffAsync(CancellationToken cancellationToken = default)
    {
        if (!DestinationBackoff.IsClear(_destination)) await ClearBackoffAsync(cancellationToken);
        Kick();
    }

    public Task WakeAsync(CancellationToken cancellationToken = default)
    {
        _outboxWakes++;
        Kick();
        return Task.CompletedTask;
    }

    public Task<FederationSenderStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new FederationSenderStatus(_pdus.Count, _edus.Count, _destination.IsBackingOff(NowMs), _catchingUp, _destination.RetryAtMs));

    private void Kick()
    {
        if (_sending) return;
        _sending = true;
        _ = SendLoopAsync();
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (true)
            {
                if (_destination.IsBackingOff(NowMs))
                {
                    ScheduleRetry();
                    return;
                }
                if (_catchingUp)
                {
                    await CatchUpAsync();
                    continue;
                }
                if (_pdus.Count == 0 && _edus.Count == 0 && !OutboxMayHaveRows) return;
                var pdus = _pdus.Take(FederationTransaction.MaxPdus).ToList();
                var edus = await TakeEdusAsync();
                if (pdus.Count == 0 && edus.Count == 0)
                {
                    OutboxSeen(edus);
                    continue;
                }
                var stored = pdus.Count == 0 ? [] : await store.GetPdusAsync(pdus.Select(p => p.EventId).ToList(), CancellationToken.None);
                if (await SendTransactionAsync(stored, edus) == TransactionOutcome.Failed)
                {
                    await StartCatchingUpAsync();
                }
                else
                {
                    _pdus.RemoveRange(0, pdus.Count);
                }
                Publish();
            }
        }
        catch (Exception e)
        {
            log.SendLoopFailed(e, Destination);
        }
        finally
        {
            _sending = false;
            Publish();
        }
    }

    /// <summary>Sends the latest unacknowledged event of up to 50 rooms, or ends catching up when there is none.</summary>
    private async Task CatchUpAsync()
    {
        if (_destination.LastSuccessfulStreamOrdering is not { } after)
        {
            _catchingUp = false;
            return;
        }
        var pdus = await store.GetCatchUpAsync(Destination, after, FederationTransaction.MaxPdus, CancellationToken.None);
        if (pdus.Count == 0)
        {
            // A PDU skipped while the query ran may not have been visible to it: look once more.
            if (_lastSkipped > after)
            {
                _lastSkipped = 0;
                return;
            }
            _catchingUp = false;
            return;
        }
        log.CatchingUp(Destination, pdus.Count);
        await SendTransactionAsync(pdus, await TakeEdusAsync());
    }

    /// <summary>
    /// The EDUs of the next transaction: the outbox's oldest (when it may have rows), then in-memory ones up to
    /// the limit. <see cref="TransactionEdus.LookedAt"/> is the wake a read that found everything answered to.
    /// </summary>
    private async Task<TransactionEdus> TakeEdusAsync()
    {
        var durable = PendingFederationEdus.None;
        long? lookedAt = null;
        if (OutboxMayHaveRows)
        {
            var wake = _outboxWakes;
            durable = await outbox.GetPendingAsync(Destination, MaxDeviceListEdus, FederationTransaction.MaxEdus, CancellationToken.None);
            if (durable.DeviceLists.Count < MaxDeviceListEdus && durable.Count < FederationTransaction.MaxEdus) lookedAt = wake;
        }
        return new TransactionEdus(durable, _edus.Take(FederationTransaction.MaxEdus - durable.Count), lookedAt);
    }

    private void OutboxSeen(TransactionEdus edus)
    {
        if (edus.LookedAt is { } wake) _outboxLooked = Math.Max(_outboxLooked, wake);
    }

    private async Task<TransactionOutcome> SendTransactionAsync(IReadOnlyList<StoredPdu> pdus, TransactionEdus edus)
    {
        var now = NowMs;
        var txnId = FederationTransaction.NewId(now);
        var request = new FederationRequest(HttpMethod.Put, Destination, FederationTransaction.Path(txnId),
            FederationTransaction.Body(server.ServerName, now, pdus, edus.All()));
        TransactionOutcome outcome;
        string reason;
        FederationResponse? response = null;
        var started = clock.GetTimestamp();
        try
        {
            response = await federation.SendAsync(request, CancellationToken.None);
            outcome = DestinationBackoff.Classify(response.StatusCode);
            reason = $"status {response.StatusCode}";
        }
        catch (Exception e) when (e is FederationRequestException or HttpRequestException or IOException or TimeoutException or TaskCanceledException)
        {
            outcome = TransactionOutcome.Failed;
            reason = e.Message;
        }
        metrics.Transaction(Destination, outcome, pdus.Count, clock.GetElapsedTime(started));
        switch (outcome)
        {
            case TransactionOutcome.Delivered:
                foreach (var (eventId, error) in FederationTransaction.PduErrors(response!.Body)) log.PduRejected(Destination, txnId, eventId, error);
                if (!DestinationBackoff.IsClear(_destination)) await ClearBackoffAsync(CancellationToken.None);
                await AcknowledgedAsync(pdus, edus);
                break;
            case TransactionOutcome.Refused:
                // Kept, a refused row would head the outbox forever: it goes like the rest of the transaction.
                log.TransactionRefused(Destination, txnId, response!.StatusCode, pdus.Count, edus.Count);
                if (edus.Durable.Count > 0) log.OutboxEdusRefused(Destination, txnId, edus.Durable.Count);
                await AcknowledgedAsync(pdus, edus);
                break;
            default:
                _destination = DestinationBackoff.Failed(_destination, NowMs, options, DestinationBackoff.Jitter());
                await store.SetRetryTimingsAsync(_destination, CancellationToken.None);
                log.TransactionFailed(Destination, txnId, reason, _destination.RetryInterval);
                var dropped = _edus.Return(edus.Ephemeral);
                if (dropped > 0) log.EdusDropped(Destination, dropped);
                if (_destination.RetryInterval > EduDropIntervalMs) _edus.Clear();
                break;
        }
        return outcome;
    }

    private async Task AcknowledgedAsync(IReadOnlyList<StoredPdu> pdus, TransactionEdus edus)
    {
        await outbox.DeleteAsync(Destination, edus.Durable, CancellationToken.None);
        OutboxSeen(edus);
        if (pdus.Count == 0) return;
        var highest = pdus.Max(p => p.StreamOrdering);
        if (highest <= (_destination.LastSuccessfulStreamOrdering ?? long.MinValue)) return;
        await store.SetLastSuccessfulStreamOrderingAsync(Destination, highest, CancellationToken.None);
        _destination = _destination with { LastSuccessfulStreamOrdering = highest };
    }

    /// <summary>
    /// Drops the in-memory PDUs: destination_rooms has each room's latest. A destination that never
    /// acknowledged anything gets a catch-up point just below them, so they are not lost (Synapse loses them).
    /// </summary>
    private async Task StartCatchingUpAsync()
    {
        if (_destination.LastSuccessfulStreamOrdering is null && _pdus.Count > 0)
        {
            var before = _pdus.Min(p => p.StreamOrdering) - 1;
            await store.SetLastSuccessfulStreamOrderingAsync(Destination, before, CancellationToken.None);
            _destination = _destination with { LastSuccessfulStreamOrdering = before };
        }
        _pdus.Clear();
        _catchingUp = true;
    }

    private async Task ClearBackoffAsync(CancellationToken cancellationToken)
    {
        if (_destination.FailureTs is { } since) log.DestinationRecovered(Destination, since);
        _destination = DestinationBackoff.Cleared(_destination);
        await store.SetRetryTimingsAsync(_destination, cancellationToken);
        _retry?.Dispose();
        _retry = null;
    }

    /// <summary>A timer for the end of the backoff; it keeps the activation alive until then.</summary>
    private void ScheduleRetry()
    {
        _retry?.Dispose();
        var due = TimeSpan.FromMilliseconds(Math.Max(0, _destination.RetryAtMs - NowMs));
        _retry = this.RegisterGrainTimer(() =>
        {
            _retry?.Dispose();
            _retry = null;
            Kick();
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private void Publish() => metrics.Destination(Destination, _pdus.Count, _destination?.IsBackingOff(NowMs) ?? false);
}

/// <summary>One transaction's EDUs: rows of the outbox, in-memory ones, and the wake the outbox read answered (null when more may be left).</summary>
internal sealed record TransactionEdus(PendingFederationEdus Durable, IReadOnlyList<Edu> Ephemeral, long? LookedAt)
{
    public int Count => Durable.Count + Ephemeral.Count;

    public IReadOnlyList<Edu> All() =>
    [
        .. Durable.DeviceLists.Select(FederationTransaction.DeviceListUpdate),
        .. Durable.ToDevice.Select(t => new Edu("m.direct_to_device", StoredJson.Parse(t.ContentJson)!.AsObject())),
        .. Ephemeral,
    ];
}
