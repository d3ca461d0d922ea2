using System.Text.Json.Nodes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Protocol;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// Outbound federation (server-server-api "Transactions") against a remote homeserver over HTTPS: events
/// handed to a destination's sender grain arrive as PUT /send transactions of at most 50 stored signed
/// PDUs, one at a time; a failing remote is backed off (in PostgreSQL) and caught up with the latest event
/// of each room; the feeder hands our users' events to the rooms' other joined servers.
/// </summary>
public sealed class FederationSenderTests(FederationSenderFixture fixture) : IClassFixture<FederationSenderFixture>
{
    private async Task<RemoteTransactions> NewRemoteAsync()
    {
        var (remote, keys) = await fixture.NewRemote();
        return new RemoteTransactions(remote, keys.ServerName);
    }

    [Fact]
    public async Task Enqueued_events_arrive_in_transactions_of_at_most_50_stored_pdus_one_in_flight()
    {
        var remote = await NewRemoteAsync();
        var (_, events) = await fixture.RoomWithMessagesAsync(120);
        var sender = fixture.Sender(remote.ServerName);

        foreach (var chunk in events.Chunk(7)) await sender.EnqueuePdusAsync(chunk);
        await sender.EnqueueEduAsync(new Edu("m.typing", new JsonObject { ["room_id"] = events[0].RoomId, ["user_id"] = "@a:b", ["typing"] = true }));

        await Eventually.WaitUntilAsync(() => remote.DeliveredEventIds.Count >= events.Count, "every event to arrive");
        await Eventually.WaitUntilAsync(() => remote.Received.Any(t => t.Body["edus"]!.AsArray().Count > 0), "the EDU to arrive");
        remote.DeliveredEventIds.Should().Equal(events.Select(e => e.EventId), "each event once, in stream order");
        remote.Received.Should().HaveCountGreaterThanOrEqualTo(3);
        remote.Received.Should().OnlyContain(t => t.Body["pdus"]!.AsArray().Count <= 50 && t.Body["edus"]!.AsArray().Count <= 100);
        remote.Received.Select(t => t.TxnId).Should().OnlyHaveUniqueItems();
        remote.MaxInFlight.Should().Be(1);
        foreach (var transaction in remote.Received)
        {
            transaction.Body["origin"]!.GetValue<string>().Should().Be(FederationClusterFixture.OurServerName);
            transaction.Body["origin_server_ts"]!.GetValue<long>().Should().BePositive();
        }
        var edu = remote.Received.SelectMany(t => t.Body["edus"]!.AsArray()).Single()!;
        edu["edu_type"]!.GetValue<string>().Should().Be("m.typing");
        edu["content"]!["typing"]!.GetValue<bool>().Should().BeTrue();

        var first = remote.Received[0].Body["pdus"]!.AsArray()[0]!;
        JsonNode.DeepEquals(first, StoredJson.Parse(await fixture.StoredJsonAsync(events[0].EventId))).Should().BeTrue("the PDU is the stored signed event");
        first["signatures"]![FederationClusterFixture.OurServerName].Should().NotBeNull();
        // The remote records a transaction before it answers; the sender writes the row after the answer.
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(remote.ServerName))?.LastSuccessful == events[^1].StreamOrdering, "the success to be stored");
        (await sender.GetStatusAsync()).PendingPdus.Should().Be(0);
    }

    [Fact]
    public async Task A_failing_remote_is_backed_off_in_postgres_then_caught_up_with_the_latest_event_per_room_after_a_reset()
    {
        var remote = await NewRemoteAsync();
        var (roomA, eventsA) = await fixture.RoomWithMessagesAsync(3);
        var (_, eventsB) = await fixture.RoomWithMessagesAsync(2);
        var sender = fixture.Sender(remote.ServerName);
        await sender.EnqueuePdusAsync(eventsA.Take(2).ToList());
        await Eventually.WaitUntilAsync(() => remote.DeliveredEventIds.Count == 2, "the first events to arrive");

        remote.Status = 500;
        await sender.EnqueuePdusAsync(eventsA.Skip(2).Take(1).ToList());
        await Eventually.WaitUntilAsync(() => remote.Received.Any(t => t.Status == 500), "the failing transaction");
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(remote.ServerName))?.RetryInterval > 0, "the backoff to be stored");
        var row = (await fixture.DestinationRowAsync(remote.ServerName))!.Value;
        row.RetryInterval.Should().Be((long)FederationSenderFixture.MinRetry.TotalMilliseconds, "the first failure waits the minimum");
        row.FailureTs.Should().NotBeNull();
        var status = await sender.GetStatusAsync();
        status.BackingOff.Should().BeTrue();
        status.CatchingUp.Should().BeTrue();

        var requests = remote.Received.Count;
        await sender.EnqueuePdusAsync(eventsA.Skip(3).ToList());
        await sender.EnqueuePdusAsync(eventsB);
        (await sender.GetStatusAsync()).PendingPdus.Should().Be(0, "while backing off, PDUs are only recorded in destination_rooms");
        await Task.Delay(TimeSpan.FromSeconds(1));
        remote.Received.Count.Should().Be(requests, "nothing is sent during the backoff");

        remote.Status = 200;
        await sender.ResetBackoffAsync();
        await Eventually.WaitUntilAsync(() => remote.Received.Count(t => t.Status == 200) > 1, "the catch-up transaction");
        var catchUp = remote.Received.Last(t => t.Status == 200);
        catchUp.PduEventIds.Should().BeEquivalentTo([eventsA[^1].EventId, eventsB[^1].EventId], "only the latest event of each room");
        var caughtUp = (0L, (long?)null, (long?)Math.Max(eventsA[^1].StreamOrdering, eventsB[^1].StreamOrdering));
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(remote.ServerName)) == caughtUp, "the catch-up to be stored");
        await Eventually.WaitUntilAsync(async () => !(await sender.GetStatusAsync()).CatchingUp, "catching up to end");

        var (_, more) = (roomA, await fixture.RoomWithMessagesAsync(1));
        await sender.EnqueuePdusAsync(more.Events);
        await Eventually.WaitUntilAsync(() => remote.DeliveredEventIds.Contains(more.Events[^1].EventId), "new events to flow as before");
    }

    [Fact]
    public async Task The_backoff_ends_by_itself_and_a_remote_that_never_answered_is_not_lost()
    {
        var remote = await NewRemoteAsync();
        remote.Status = 503;
        var (_, events) = await fixture.RoomWithMessagesAsync(2);
        var sender = fixture.Sender(remote.ServerName);
        await sender.EnqueuePdusAsync(events);
        await Eventually.WaitUntilAsync(() => remote.Received.Count == 1, "the failing transaction");
        remote.Status = 200;

        await Eventually.WaitUntilAsync(() => remote.Received.Any(t => t.Status == 200), "the retry after the backoff");
        remote.Received.Last().PduEventIds.Should().Equal(events[^1].EventId);
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(remote.ServerName))?.RetryInterval == 0, "the backoff to be cleared");
    }

    [Fact]
    public async Task A_refused_transaction_is_not_retried_and_does_not_back_off_and_pdu_errors_are_only_logged()
    {
        var remote = await NewRemoteAsync();
        var (_, events) = await fixture.RoomWithMessagesAsync(3);
        var sender = fixture.Sender(remote.ServerName);
        remote.Status = 400;
        await sender.EnqueuePdusAsync(events.Take(1).ToList());
        await Eventually.WaitUntilAsync(() => remote.Received.Count == 1, "the refused transaction");

        remote.Status = 200;
        remote.Answer = body => new JsonObject
        {
            ["pdus"] = new JsonObject { [events[1].EventId] = new JsonObject { ["error"] = "not allowed" } },
        };
        await sender.EnqueuePdusAsync(events.Skip(1).Take(1).ToList());
        await Eventually.WaitUntilAsync(() => remote.Received.Count == 2, "the next transaction");
        remote.Answer = null;
        await sender.EnqueuePdusAsync(events.Skip(2).Take(1).ToList());
        await Eventually.WaitUntilAsync(() => remote.Received.Count == 3, "the one after");

        remote.Received.Select(t => t.PduEventIds.Single()).Should().Equal(events.Take(3).Select(e => e.EventId), "nothing is sent twice");
        await Eventually.WaitUntilAsync(async () => (await fixture.DestinationRowAsync(remote.ServerName))?.RetryInterval == 0, "the backoff to be cleared");
        (await sender.GetStatusAsync()).BackingOff.Should().BeFalse();
    }

    [Fact]
    public async Task Queued_edus_are_bounded_dropping_typing_first()
    {
        var queue = new EduQueue(3);
        queue.Add(new Edu("m.receipt", [])).Should().Be(0);
        queue.Add(new Edu("m.typing", [])).Should().Be(0);
        queue.Add(new Edu("m.presence", [])).Should().Be(0);
        queue.Add(new Edu("m.direct_to_device", [])).Should().Be(1);
        queue.Take(10).Select(e => e.EduType).Should().Equal("m.receipt", "m.presence", "m.direct_to_device");
        await Task.CompletedTask;
    }

    [Fact]
    public void Destinations_are_the_other_joined_servers_of_events_our_users_sent()
    {
        const string us = FederationClusterFixture.OurServerName;
        FederationDestinations.For($"@alice:{us}", us, [us, "remote.example", "127.0.0.1:8448", "remote.example"])
            .Should().Equal("remote.example", "127.0.0.1:8448");
        FederationDestinations.For("@bob:remote.example", us, [us, "remote.example", "other.example"]).Should().BeEmpty("remote events are not ours to send");
        FederationDestinations.For($"@alice:{us}", us, [us]).Should().BeEmpty();
        FederationDestinations.For($"@alice:{us}", us, [us, "remote.example"], leavingMember: "@bob:banned.example")
            .Should().Equal(["remote.example", "banned.example"], "the server of a user the event removes hears of it");
        FederationDestinations.For($"@alice:{us}", us, [us], leavingMember: $"@carol:{us}").Should().BeEmpty();
    }

    [Fact]
    public void Backoff_follows_synapse_retryutils()
    {
        var options = new Configuration.FederationSenderOptions();
        var clear = new Storage.Federation.DestinationRecord("d", 0, 0, null, null);
        var first = DestinationBackoff.Failed(clear, 1000, options, 1.0);
        first.Should().Be(clear with { RetryLastTs = 1000, RetryInterval = 600_000, FailureTs = 1000 });
        var second = DestinationBackoff.Failed(first, 2000, options, 1.4);
        second.RetryInterval.Should().Be(1_680_000);
        second.FailureTs.Should().Be(1000, "the first failure is kept");
        DestinationBackoff.Failed(second with { RetryInterval = 6 * 86_400_000L }, 3000, options, 1.0).RetryInterval.Should().Be(7 * 86_400_000L);
        DestinationBackoff.Classify(429).Should().Be(TransactionOutcome.Failed);
        DestinationBackoff.Classify(401).Should().Be(TransactionOutcome.Failed);
        DestinationBackoff.Classify(404).Should().Be(TransactionOutcome.Refused);
        DestinationBackoff.Classify(502).Should().Be(TransactionOutcome.Failed);
    }

    [Fact]
    public async Task The_feeder_sends_our_users_events_to_the_rooms_other_joined_servers()
    {
        var remote = await NewRemoteAsync();
        using var alice = new MatrixClient(fixture.BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        // The room grain cannot yet admit a remote member (federation joins are being built), so the
        // member is written where the feeder reads joined servers: current state.
        await fixture.ExecuteAsync(
            "INSERT INTO current_state_events (room_id, type, state_key, event_id, membership) VALUES ($1, 'm.room.member', $2, $3, 'join')",
            roomId, $"@bob:{remote.ServerName}", $"$fake{Guid.NewGuid():N}");

        var eventId = await alice.SendMessageAsync(roomId, new JsonObject { ["msgtype"] = "m.text", ["body"] = "hello remote" });

        await Eventually.WaitUntilAsync(() => remote.DeliveredEventIds.Contains(eventId), "the event to reach the remote member's server");
        remote.DeliveredEventIds.Should().OnlyHaveUniqueItems();
        remote.Received.SelectMany(t => t.Body["pdus"]!.AsArray()).Should().OnlyContain(p => p!["room_id"]!.GetValue<string>() == roomId);
    }

    [Fact]
    public async Task Silo_metrics_show_transactions_and_destinations()
    {
        var remote = await NewRemoteAsync();
        var (_, events) = await fixture.RoomWithMessagesAsync(1);
        await fixture.Sender(remote.ServerName).EnqueuePdusAsync(events);
        await Eventually.WaitUntilAsync(() => remote.DeliveredEventIds.Count == events.Count, "the events to arrive");
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(fixture.Cluster.Silos[0].MetricsAddress, "/metrics"));
        metrics.Should().Contain("federation_transactions_total{outcome=\"delivered\"}");
        metrics.Should().Contain($"federation_pending_pdus{{destination=\"{remote.ServerName}\"}} 0");
        metrics.Should().Contain($"federation_destination_backing_off{{destination=\"{remote.ServerName}\"}} 0");
        metrics.Should().Contain("# TYPE federation_transaction_duration_seconds histogram");
        metrics.Should().Contain($"federation_last_transaction_seconds{{destination=\"{remote.ServerName}\"}}");
    }
}
