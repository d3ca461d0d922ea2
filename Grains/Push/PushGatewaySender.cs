using System.Net.Http.Headers;
using System.Text.Json;
using Homeserver.Protocol;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Homeserver.Grains.Hosting;
using Homeserver.Storage.Push;
using Homeserver.Storage.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Homeserver.Grains.Push;

/// <summary>Where this process pushes, and how patiently (bound from <c>pusher_instances</c> and defaults).</summary>
public sealed record PusherOptions(int InstanceIndex, int InstanceCount)
{
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>
/// Sends each notifying event to the HTTP push gateways of the users' pushers (the Push Gateway
/// API's <c>/_matrix/push/v1/notify</c>), in order per pusher, from where each pusher left off, so a
/// restart neither skips nor repeats what was acknowledged. A failing gateway is retried with
/// exponential backoff; pushkeys a gateway rejects lose their pusher. With several
/// <c>pusher_instances</c>, each takes the users whose ID hashes to it.
/// </summary>
public sealed class PushGatewaySender(
    PusherStore pushers, StreamPositionReader positions, PusherOptions options, IHttpClientFactory http, TimeProvider clock, GrainsLog log)
    : BackgroundService
{
    /// <summary>The named client gateways are reached with; it takes the process's outbound trust like every other.</summary>
    public const string HttpClientName = "push-gateway";

    private readonly Dictionary<(string, string, string), (DateTimeOffset RetryAt, TimeSpan Backoff)> _failing = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.PollInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await PushAllAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.PushingFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task PushAllAsync(CancellationToken cancellationToken)
    {
        var upTo = await positions.GetSafePositionAsync("events", cancellationToken);
        using var client = http.CreateClient(HttpClientName);
        foreach (var pusher in await pushers.GetAsync(null, cancellationToken))
        {
            if (pusher.Kind != "http" || !IsMine(pusher.UserId)) continue;
            var key = (pusher.UserId, pusher.AppId, pusher.Pushkey);
            if (_failing.TryGetValue(key, out var failing) && failing.RetryAt > clock.GetUtcNow()) continue;
            foreach (var push in await pushers.GetPendingAsync(pusher, upTo, 50, cancellationToken))
            {
                var outcome = await SendAsync(client, pusher, push, cancellationToken);
                if (outcome == Outcome.Failed)
                {
                    var backoff = failing.Backoff == TimeSpan.Zero ? options.InitialBackoff : TimeSpan.FromTicks(Math.Min(failing.Backoff.Ticks * 2, options.MaxBackoff.Ticks));
                    _failing[key] = (clock.GetUtcNow() + backoff, backoff);
                    log.PushRetrying(pusher.UserId, pusher.AppId, backoff.TotalSeconds);
                    break;
                }
                _failing.Remove(key);
                failing = default;
                if (outcome == Outcome.Rejected)
                {
                    await pushers.DeleteAsync(pusher.UserId, pusher.AppId, pusher.Pushkey, cancellationToken);
                    break;
                }
                await pushers.AdvanceAsync(pusher, push.StreamOrdering, cancellationToken);
            }
        }
    }

    private enum Outcome { Sent, Failed, Rejected }

    private async Task<Outcome> SendAsync(HttpClient client, PusherRecord pusher, PendingPush push, CancellationToken cancellationToken)
    {
        var data = StoredJson.Parse(pusher.DataJson) as JsonObject ?? [];
        if (data["url"]?.ToString() is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var gateway)) return Outcome.Rejected;
        var pdu = StoredJson.Parse(push.EventJson)!.AsObject();
        var actions = StoredJson.Parse(push.ActionsJson) as JsonArray ?? [];
        var tweaks = new JsonObject();
        foreach (var tweak in actions.OfType<JsonObject>())
        {
            if (tweak["set_tweak"]?.ToString() is { } name) tweaks[name] = tweak["value"]?.DeepClone() ?? true;
        }
        var deviceData = data.DeepClone().AsObject();
        deviceData.Remove("url");
        var notification = new JsonObject
        {
            ["event_id"] = push.EventId,
            ["room_id"] = push.RoomId,
            ["type"] = pdu["type"]?.DeepClone(),
            ["sender"] = pdu["sender"]?.DeepClone(),
            ["prio"] = tweaks.ContainsKey("highlight") || pdu["type"]?.ToString() is "m.room.message" or "m.room.encrypted" ? "high" : "low",
            ["devices"] = new JsonArray(new JsonObject
            {
                ["app_id"] = pusher.AppId, ["pushkey"] = pusher.Pushkey, ["pushkey_ts"] = pusher.CreatedTs / 1000, ["data"] = deviceData, ["tweaks"] = tweaks,
            }),
        };
        // event_id_only keeps message content off the gateway (and out of the platform's push service).
        if (data["format"]?.ToString() != "event_id_only")
        {
            notification["content"] = pdu["content"]?.DeepClone();
            if (pdu["state_key"] is { } stateKey) notification["user_is_target"] = stateKey.ToString() == pusher.UserId;
        }
        try
        {
            // Exactly application/json, as the push gateway API names it: a strict gateway refuses a charset parameter.
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["notification"] = notification }));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync(gateway, content, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                log.PushGatewayRefused(gateway.ToString(), (int)response.StatusCode, pusher.UserId, pusher.AppId);
                return Outcome.Failed;
            }
            var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
            return body?["rejected"] is JsonArray rejected && rejected.Any(r => r?.ToString() == pusher.Pushkey) ? Outcome.Rejected : Outcome.Sent;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            log.PushGatewayUnreachable(e, gateway.ToString(), pusher.UserId, pusher.AppId);
            return Outcome.Failed;
        }
    }

    /// <summary>Users are spread over pusher instances by the same stable hash that places grains.</summary>
    private bool IsMine(string userId) =>
        options.InstanceCount <= 1 || Placement.StablePlacement.Pick(userId, options.InstanceCount) == options.InstanceIndex;
}

public static class PushGatewaySenderServiceCollectionExtensions
{
    /// <summary>Pushing from this process, for its share of users; a gateway gets 30 s to answer.</summary>
    public static IServiceCollection AddPushGatewaySender(this IServiceCollection services, PusherOptions options)
    {
        services.AddSingleton(options);
        services.AddHttpClient(PushGatewaySender.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(30));
        services.AddHostedService<PushGatewaySender>();
        return services;
    }
}
