using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Remote;

namespace Orleans.Streams;

/// <summary>Hands out streams over the configured transport, with catch-up sources from DI.</summary>
public sealed class StreamProvider(IStreamTransport transport, IServiceProvider services, RuntimeLog log, StreamOptions options)
    : IStreamProvider
{
    public IAsyncStream<T> GetStream<T>(StreamId id) =>
        new TransportStream<T>(id, transport, services.GetService<IStreamCatchUpSource<T>>(), log, options);
}

public sealed class StreamOptions
{
    /// <summary>How often a subscription checks the durable record for rows the transport silently dropped.</summary>
    public TimeSpan CatchUpInterval { get; set; } = TimeSpan.FromSeconds(5);
}

internal sealed class TransportStream<T>(
    StreamId id,
    IStreamTransport transport,
    IStreamCatchUpSource<T>? catchUp,
    RuntimeLog log,
    StreamOptions options) : IAsyncStream<T>
{
    public StreamId StreamId => id;

    private string Channel => "stream:" + id;

    public Task OnNextAsync(T item, StreamSequenceToken token)
    {
        var payload = new JsonObject
        {
            ["p"] = token.Position,
            ["i"] = JsonSerializer.SerializeToNode(item, GrainJson.Options),
        };
        return transport.PublishAsync(Channel, payload.ToJsonString());
    }

    public async Task<StreamSubscriptionHandle> SubscribeAsync(Func<T, StreamSequenceToken, Task> onNext, StreamSequenceToken? from = null)
    {
        long start;
        if (from is not null) start = from.Position;
        else if (catchUp is not null) start = await catchUp.GetSafePositionAsync(id, CancellationToken.None).ConfigureAwait(false);
        else start = long.MinValue;

        var subscription = new StreamSubscription<T>(id, onNext, catchUp, log, start);
        await subscription.AttachAsync(transport, Channel, options.CatchUpInterval).ConfigureAwait(false);
        return subscription;
    }
}
