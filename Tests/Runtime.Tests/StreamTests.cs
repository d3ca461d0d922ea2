using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Hosting;
using Orleans.Streams;

namespace Homeserver.Tests.Runtime;

public sealed class StreamTests
{
    /// <summary>An in-memory stand-in for the PostgreSQL record; the Redis/PostgreSQL pair is covered by the integration tests.</summary>
    private sealed class MemoryRecord : IStreamCatchUpSource<string>
    {
        public readonly List<StreamItem<string>> Rows = [];
        public long Safe;

        public Task<long> GetSafePositionAsync(StreamId id, CancellationToken cancellationToken) => Task.FromResult(Safe);

        public Task<long> GetLatestPositionAsync(StreamId id, CancellationToken cancellationToken) => Task.FromResult(Safe);

        public Task<IReadOnlyList<StreamItem<string>>> ReadAsync(StreamId id, long after, long upTo, CancellationToken cancellationToken)
        {
            lock (Rows) return Task.FromResult<IReadOnlyList<StreamItem<string>>>(
                Rows.Where(r => r.Position > after && r.Position <= upTo).OrderBy(r => r.Position).ToList());
        }
    }

    private static (IStreamProvider, MemoryRecord) Build()
    {
        var record = new MemoryRecord();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IStreamCatchUpSource<string>>(record);
        services.AddSingleton(new StreamOptions { CatchUpInterval = TimeSpan.FromHours(1) });
        services.AddGrainRuntime(new GrainRuntimeOptions());
        return (services.BuildServiceProvider().GetRequiredService<IStreamProvider>(), record);
    }

    [Fact]
    public async Task A_late_subscriber_first_catches_up_from_the_record_then_follows_live_rows_exactly_once()
    {
        var (provider, record) = Build();
        var stream = provider.GetStream<string>(StreamId.Create("events"));
        for (var p = 1; p <= 5; p++) record.Rows.Add(new StreamItem<string>(p, $"row{p}"));
        record.Safe = 5;

        var received = new List<long>();
        var sixth = new TaskCompletionSource();
        await using var subscription = await stream.SubscribeAsync((item, token) =>
        {
            lock (received) received.Add(token.Position);
            if (token.Position == 7) sixth.TrySetResult();
            return Task.CompletedTask;
        }, new StreamSequenceToken(2));
        await subscription.CatchUpAsync();

        // Row 6 is published live and recorded; row 7 is published live twice (a duplicate delivery).
        record.Rows.Add(new StreamItem<string>(6, "row6"));
        await stream.OnNextAsync("row6", new StreamSequenceToken(6));
        await stream.OnNextAsync("row7", new StreamSequenceToken(7));
        await stream.OnNextAsync("row7", new StreamSequenceToken(7));
        await sixth.Task.WaitAsync(TimeSpan.FromSeconds(10));
        record.Safe = 7;
        record.Rows.Add(new StreamItem<string>(7, "row7"));
        await subscription.CatchUpAsync();

        lock (received) received.Should().Equal(3, 4, 5, 6, 7);
        subscription.Watermark.Should().Be(7);
    }

    [Fact]
    public async Task Rows_the_transport_dropped_are_recovered_by_catch_up()
    {
        var (provider, record) = Build();
        var stream = provider.GetStream<string>(StreamId.Create("events"));
        var received = new List<long>();
        await using var subscription = await stream.SubscribeAsync((_, token) =>
        {
            lock (received) received.Add(token.Position);
            return Task.CompletedTask;
        });
        await subscription.CatchUpAsync();

        // Positions commit out of order across writers: 12 arrives live, 11 is never published.
        record.Rows.Add(new StreamItem<string>(12, "b"));
        await stream.OnNextAsync("b", new StreamSequenceToken(12));
        record.Rows.Add(new StreamItem<string>(11, "a"));
        record.Safe = 12;
        await subscription.CatchUpAsync();

        lock (received) received.Should().BeEquivalentTo([12L, 11L]);
    }
}
