using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Federation.Events;
using Homeserver.Federation.Transport;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.Logging;
using Orleans;

namespace Homeserver.ApiHost.ClientApi.Federation;

/// <summary>
/// Fetches a room's history from before this server joined it, when a client pages back past the room's first
/// event here (server-server-api "Backfilling and retrieving missing events"): <c>GET /backfill</c> from the room's
/// backward extremities, asked of the servers with the most joined members first, until one answers with events the
/// room can place. Each event is checked as any received PDU (format, hashes, signatures) before the room grain
/// takes it. The work is bounded: a few servers, at most <see cref="MaxEvents"/> events each, one overall deadline,
/// and a room that just gave nothing is not asked again for a while.
/// </summary>
public sealed partial class RemoteBackfill(IFederationClient client, PduVerifier verifier, IGrainFactory grains, RoomReader rooms, RoomDagStore dag,
    ProcessSettings settings, TimeProvider clock, ILogger<RemoteBackfill> logger)
{
    /// <summary>Synapse's cap on a backfill, and the most this server asks for or takes from one answer.</summary>
    public const int MaxEvents = 100;

    /// <summary>Servers asked for one page, at most.</summary>
    public const int MaxServers = 5;

    /// <summary>The extremities named in one request (<c>v</c>), at most.</summary>
    public const int MaxExtremities = 20;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan QuietAfterNothing = TimeSpan.FromSeconds(30);
    private const int MaxQuietRooms = 10_000;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _quietUntil = new(StringComparer.Ordinal);

    /// <summary>Whether the room's history may go back further than this server holds (it has backward extremities).</summary>
    public async Task<bool> HasMoreAsync(string roomId, CancellationToken cancellationToken) =>
        (await dag.GetBackwardExtremitiesAsync(roomId, 1, cancellationToken)).Count > 0;

    /// <summary>Fetches up to about <paramref name="wanted"/> older events into the room; whether any were placed.</summary>
    public async Task<bool> FillAsync(string roomId, int wanted, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_quietUntil.TryGetValue(roomId, out var until) && until > now) return false;
        var extremities = await dag.GetBackwardExtremitiesAsync(roomId, MaxExtremities, cancellationToken);
        if (extremities.Count == 0) return false;
        if (!RoomVersions.TryGet(await rooms.GetRoomVersionAsync(roomId, cancellationToken), out var version)) return false;

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Deadline);
        var limit = Math.Clamp(wanted, 10, MaxEvents);
        var query = string.Join("&", extremities.Select(id => "v=" + Uri.EscapeDataString(id))) + $"&limit={limit}";
        foreach (var server in await ServersAsync(roomId, cancellationToken))
        {
            try
            {
                var response = await client.SendAsync(new FederationRequest(HttpMethod.Get, server,
                    $"/_matrix/federation/v1/backfill/{Uri.EscapeDataString(roomId)}?{query}"), deadline.Token);
                if (!response.IsSuccess || response.Body?["pdus"] is not JsonArray pdus)
                {
                    BackfillFailed(roomId, server, $"HTTP {response.StatusCode}, or no pdus list");
                    continue;
                }
                var verified = new List<ReceivedPdu>();
                foreach (var node in pdus.Take(limit))
                {
                    if (node is not JsonObject pdu) continue;
                    var (ok, refusal) = await verifier.VerifyAsync(pdu, version, deadline.Token);
                    if (ok is null)
                    {
                        EventRefused(roomId, server, refusal!);
                        continue;
                    }
                    verified.Add(new ReceivedPdu(ok.EventId, ok.Pdu));
                }
                var outcome = await grains.GetGrain<IRoomGrain>(roomId).BackfillAsync(verified, deadline.Token);
                if (outcome.Placed > 0)
                {
                    _quietUntil.TryRemove(roomId, out _);
                    return true;
                }
            }
            catch (FederationRequestException e)
            {
                BackfillFailed(roomId, server, e.Message);
            }
            catch (Grains.Interfaces.Errors.MatrixException e)
            {
                // The room could not take them now (its writer moved, say): the client gets the page it has.
                BackfillFailed(roomId, server, $"the room refused the events: {e.Message}");
                break;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                BackfillFailed(roomId, server, "out of time");
                break;
            }
        }
        if (_quietUntil.Count >= MaxQuietRooms) _quietUntil.Clear();
        _quietUntil[roomId] = clock.GetUtcNow() + QuietAfterNothing;
        return false;
    }

    /// <summary>The servers with joined members in the room, the most members first, then the room ID's own; never this one.</summary>
    private async Task<IReadOnlyList<string>> ServersAsync(string roomId, CancellationToken cancellationToken)
    {
        var joined = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in await rooms.GetCurrentStateAsync(roomId, "m.room.member", cancellationToken: cancellationToken))
        {
            var pdu = StoredJson.Parse(row.Json);
            if (pdu?["content"]?["membership"] is not JsonValue m || !m.TryGetValue<string>(out var membership) || membership != "join") continue;
            if (pdu["state_key"] is not JsonValue k || !k.TryGetValue<string>(out var member) || !UserId.TryParse(member, out var user)) continue;
            var name = user.Server.ToString();
            joined[name] = joined.GetValueOrDefault(name) + 1;
        }
        var servers = joined.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key).ToList();
        if (RoomId.TryParse(roomId, out var parsed) && parsed.Server is { } own && !servers.Contains(own.ToString())) servers.Add(own.ToString());
        return [.. servers.Where(s => s != settings.ServerName).Take(MaxServers)];
    }

    [LoggerMessage(EventId = 5721, Level = LogLevel.Information, Message = "Backfilling {RoomId} from {Server} failed: {Reason}")]
    private partial void BackfillFailed(string roomId, string server, string reason);

    [LoggerMessage(EventId = 5722, Level = LogLevel.Information, Message = "An event {Server} backfilled into {RoomId} was refused: {Reason}")]
    private partial void EventRefused(string roomId, string server, string reason);
}
