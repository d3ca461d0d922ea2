using System.Net.Http;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>The sender backs off for ten minutes, so only the destination contacting us can end the wait within a test.</summary>
public sealed class LongBackoffFederationSenderFixture : FederationSenderFixture
{
    protected override void Configure(HomeserverTestClusterOptions options)
    {
        base.Configure(options);
        options.FederationSender = options.FederationSender with { MinRetryInterval = TimeSpan.FromMinutes(10), MaxRetryInterval = TimeSpan.FromHours(1) };
    }
}

/// <summary>
/// A destination that contacts us with a signed request is up again: its backoff ends and it is caught
/// up at once (server-server-api "Transactions"; Synapse does the same on any inbound request). An
/// unsigned or badly signed request proves nothing and changes nothing.
/// </summary>
public sealed class DestinationContactTests(LongBackoffFederationSenderFixture fixture) : IClassFixture<LongBackoffFederationSenderFixture>
{
    [Fact]
    public async Task A_backed_off_destination_that_sends_us_a_signed_request_is_caught_up_at_once()
    {
        var (remote, keys) = await fixture.NewRemote();
        var transactions = new RemoteTransactions(remote, keys.ServerName) { Status = 503 };
        var (_, events) = await fixture.RoomWithMessagesAsync(2);
        var sender = fixture.Sender(keys.ServerName);
        await sender.EnqueuePdusAsync(events.Take(1).ToList());
        await Eventually.WaitUntilAsync(async () => (await sender.GetStatusAsync()).BackingOff, "the backoff to start");
        await sender.EnqueuePdusAsync(events.Skip(1).ToList());
        transactions.Status = 200;

        // Unauthenticated: no proof the destination is back.
        using (var http = new HttpClient { BaseAddress = fixture.BaseAddress })
        {
            using var unsigned = await http.GetAsync("/_matrix/federation/v1/query/profile?user_id=%40nobody%3Ahs.fed.test");
            ((int)unsigned.StatusCode).Should().Be(401);
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        (await sender.GetStatusAsync()).BackingOff.Should().BeTrue("an unsigned request does not end the backoff");
        transactions.Received.Should().NotContain(t => t.Status == 200);

        var (status, _) = await FederationRequests.SendSignedAsync(fixture.BaseAddress, keys, HttpMethod.Get,
            "/_matrix/federation/v1/query/profile?user_id=%40nobody%3Ahs.fed.test");
        status.Should().Be(404, "the request itself is answered as usual");

        await Eventually.WaitUntilAsync(() => transactions.Received.Any(t => t.Status == 200), "the catch-up, long before the ten-minute retry");
        transactions.Received.Last(t => t.Status == 200).PduEventIds.Should().Equal(events[^1].EventId);
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(keys.ServerName))?.RetryInterval == 0, "the backoff to be cleared");
    }
}
