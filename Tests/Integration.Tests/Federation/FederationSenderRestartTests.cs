namespace Homeserver.Tests.Integration.Federation;

/// <summary>A backoff is PostgreSQL's, not the activation's: it outlives the federation sender's silo.</summary>
public sealed class FederationSenderRestartTests(FederationSenderRestartFixture fixture) : IClassFixture<FederationSenderRestartFixture>
{
    [Fact]
    public async Task A_backoff_survives_a_silo_restart_and_catch_up_follows_the_reset()
    {
        var (remote, keys) = await fixture.NewRemote();
        var transactions = new RemoteTransactions(remote, keys.ServerName) { Status = 500 };
        var (_, events) = await fixture.RoomWithMessagesAsync(2);
        await fixture.Sender(keys.ServerName).EnqueuePdusAsync(events.Take(1).ToList());
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(keys.ServerName))?.RetryInterval > 0, "the backoff to be stored");

        var silo = fixture.Cluster.Silos.Single(s => s.Name == "silo1");
        await fixture.Cluster.KillSiloAsync(silo);
        await fixture.Cluster.RestartSiloAsync(silo);
        var requests = transactions.Received.Count;

        var sender = fixture.Sender(keys.ServerName);
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                return (await sender.GetStatusAsync()).BackingOff;
            }
            catch (Exception e) when (e is not TimeoutException)
            {
                return false;
            }
        }, "the new activation to load the backoff");
        await sender.EnqueuePdusAsync(events.Skip(1).ToList());
        transactions.Status = 200;
        await Task.Delay(TimeSpan.FromSeconds(1));
        transactions.Received.Count.Should().Be(requests, "the restarted sender still backs off");

        await sender.ResetBackoffAsync();
        await Eventually.WaitUntilAsync(() => transactions.Received.Any(t => t.Status == 200), "the catch-up");
        transactions.Received.Last().PduEventIds.Should().Equal(events[^1].EventId);
    }
}
