using Homeserver.Configuration;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Storage.Federation;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Streams;
using Microsoft.Extensions.Hosting;
using Orleans;

namespace Homeserver.Grains.Federation;

/// <summary>
/// Follows the events table by stream position (as pushers do: PostgreSQL is the record, so nothing a
/// stream message could lose matters) up to the stream's safe position, and hands each event one of our
/// users sent to the sender grains of the room's other joined servers that this instance sends to. Its
/// position is stored after the grains have taken the events, so a restart repeats at most one batch
/// (the remote drops PDUs it has) and skips none. At start it wakes the destinations PostgreSQL says
/// still have something to catch up, and every minute those with EDUs in an outbox, in case the wake
/// their writer sent was lost (a wake during a backoff only sets the retry timer again).
/// </summary>
public sealed class FederationEventFeeder(
    OutboundEventStore events,
    DestinationStore destinations,
    RoomReader rooms,
    StreamPositionReader positions,
    IGrainFactory grains,
    FederationSenderInstance instance,
    FederationSenderOptions options,
    TimeProvider clock,
    FederationSenderLog log) : BackgroundService
{
    private const int BatchSize = 500;
    private static readonly TimeSpan OutboxSweepInterval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long? position = null;
        var woken = false;
        var swept = clock.GetTimestamp();
        using var timer = new PeriodicTimer(options.PollInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    position ??= await events.GetPositionAsync(instance.InstanceName,
                        await positions.GetSafePositionAsync("events", stoppingToken), stoppingToken);
                    if (!woken)
                    {
                        await WakeOutstandingAsync(stoppingToken);
                        woken = true;
                    }
                    position = await FeedAsync(position.Value, stoppingToken);
                    if (clock.GetElapsedTime(swept) >= OutboxSweepInterval)
                    {
                        swept = clock.GetTimestamp();
                        await WakeAsync(await destinations.GetWithOutboxAsync(stoppingToken), stoppingToken);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.FeedingFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WakeOutstandingAsync(CancellationToken cancellationToken) =>
        await WakeAsync(await destinations.GetOutstandingAsync(cancellationToken), cancellationToken);

    private async Task WakeAsync(IReadOnlyList<string> outstanding, CancellationToken cancellationToken)
    {
        foreach (var destination in outstanding)
        {
            if (instance.Sends(destination)) await grains.GetGrain<IFederationSenderGrain>(destination).WakeAsync(cancellationToken);
        }
    }

    private async Task<long> FeedAsync(long position, CancellationToken cancellationToken)
    {
        var upTo = await positions.GetSafePositionAsync("events", cancellationToken);
        while (position < upTo)
        {
            var batch = await events.GetAfterAsync(position, upTo, BatchSize, cancellationToken);
            if (batch.Count == 0) break;
            var byDestination = new Dictionary<string, List<OutboundPdu>>(StringComparer.Ordinal);
            var servers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var e in batch)
            {
                if (!servers.TryGetValue(e.RoomId, out var joined)) servers[e.RoomId] = joined = await rooms.GetJoinedServersAsync(e.RoomId, cancellationToken);
                foreach (var destination in FederationDestinations.For(e.Sender, instance.ServerName, joined, e.LeavingMember))
                {
                    if (!instance.Sends(destination)) continue;
                    if (!byDestination.TryGetValue(destination, out var pdus)) byDestination[destination] = pdus = [];
                    pdus.Add(new OutboundPdu(e.RoomId, e.EventId, e.StreamOrdering));
                }
            }
            await Task.WhenAll(byDestination.Select(d => grains.GetGrain<IFederationSenderGrain>(d.Key).EnqueuePdusAsync(d.Value, cancellationToken)));
            position = batch[^1].StreamOrdering;
            await events.SetPositionAsync(instance.InstanceName, position, cancellationToken);
        }
        return position;
    }
}
