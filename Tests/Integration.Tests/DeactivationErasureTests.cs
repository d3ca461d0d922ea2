using System.Text.Json.Nodes;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Users;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration;

/// <summary>
/// POST /account/deactivate with <c>erase</c>: users who join later are served the erased user's events
/// pruned (on /messages, /context, /event, /events/{id} and /sync), while those who were there keep
/// seeing them; the profile and account data go, and pending invites are declined. Without erase,
/// history stays as it was.
/// </summary>
public sealed class DeactivationErasureTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);

    [Fact]
    public async Task An_erased_users_events_are_served_pruned_to_later_joiners_only_and_their_profile_and_account_data_go()
    {
        using var alice = NewClient();
        using var bob = NewClient();
        using var carol = NewClient();
        using var eve = NewClient();
        var aliceName = MatrixClient.NewUserName();
        var eveName = MatrixClient.NewUserName();
        await alice.RegisterAsync(aliceName, "alice-pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await carol.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await eve.RegisterAsync(eveName, "eve-pw");
        (await alice.PutAsync($"/_matrix/client/v3/profile/{alice.UserId}/displayname", new JsonObject { ["displayname"] = "Alice Smith" })).Status.Should().Be(200);
        (await alice.PutAsync($"/_matrix/client/v3/profile/{alice.UserId}/avatar_url", new JsonObject { ["avatar_url"] = "mxc://test.local/alice" })).Status.Should().Be(200);
        (await alice.PutAsync($"/_matrix/client/v3/user/{alice.UserId}/account_data/org.example.notes", new JsonObject { ["private"] = "notes" }))
            .Status.Should().Be(200);

        // A public room with shared history: a later joiner may read what came before.
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        await bob.JoinAsync(room);
        await eve.JoinAsync(room);
        var secret = await alice.SendTextAsync(room, "alice's secret");
        var kept = await eve.SendTextAsync(room, "eve's message");
        var invitedTo = await bob.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(alice.UserId) });

        // A malformed erase is refused before authentication; a well-formed one survives the UIA round.
        (await alice.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["erase"] = "yes" })).Status.Should().Be(400);
        var first = await alice.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["erase"] = true });
        first.Status.Should().Be(401);
        var session = first.Body["session"]!.GetValue<string>();
        (await alice.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["auth"] = MatrixClient.PasswordAuth(aliceName, "alice-pw", session) }))
            .Status.Should().Be(200);
        (await eve.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["auth"] = MatrixClient.PasswordAuth(eveName, "eve-pw", null), ["erase"] = false }))
            .Status.Should().Be(200);

        await carol.JoinAsync(room);

        // Carol joined after Alice's message: she sees it pruned, with no redaction to point at.
        var carolMessages = await MessagesAsync(carol, room);
        var pruned = carolMessages.Single(e => e["event_id"]!.GetValue<string>() == secret);
        pruned["content"]!.AsObject().Should().BeEmpty();
        pruned["unsigned"]!.AsObject().ContainsKey("redacted_because").Should().BeFalse();
        var aliceJoin = carolMessages.First(e => e["type"]!.GetValue<string>() == "m.room.member" && e["state_key"]!.GetValue<string>() == alice.UserId);
        aliceJoin["content"]!.AsObject().Select(kv => kv.Key).Should().Equal(["membership"], "the redaction algorithm keeps a member event's membership only");
        carolMessages.Single(e => e["event_id"]!.GetValue<string>() == kept)["content"]!["body"]!.GetValue<string>()
            .Should().Be("eve's message", "Eve deactivated without erasure");
        (await carol.GetAsync($"/_matrix/client/v3/rooms/{room}/event/{secret}")).Body["content"]!.AsObject().Should().BeEmpty();
        (await carol.GetAsync($"/_matrix/client/v3/events/{secret}")).Body["content"]!.AsObject().Should().BeEmpty();
        var context = (await carol.GetAsync($"/_matrix/client/v3/rooms/{room}/context/{kept}?limit=10")).Body;
        context["events_before"]!.AsArray().Single(e => e!["event_id"]!.GetValue<string>() == secret)!["content"]!.AsObject().Should().BeEmpty();
        var timeline = (await carol.SyncAsync(query: "&filter=" + Uri.EscapeDataString("""{"room":{"timeline":{"limit":50}}}""")))
            ["rooms"]!["join"]![room]!["timeline"]!["events"]!.AsArray();
        timeline.Single(e => e!["event_id"]!.GetValue<string>() == secret)!["content"]!.AsObject().Should().BeEmpty();

        // Bob was there when Alice wrote: he still sees what she wrote.
        (await MessagesAsync(bob, room)).Single(e => e["event_id"]!.GetValue<string>() == secret)["content"]!["body"]!.GetValue<string>()
            .Should().Be("alice's secret");
        (await bob.GetAsync($"/_matrix/client/v3/rooms/{room}/event/{secret}")).Body["content"]!["body"]!.GetValue<string>().Should().Be("alice's secret");

        // The profile is gone, her member event in the room is a bare leave, her invite is declined, her account data deleted.
        (await carol.GetAsync($"/_matrix/client/v3/profile/{alice.UserId}")).Body.Should().BeEmpty();
        var member = (await carol.GetAsync($"/_matrix/client/v3/rooms/{room}/state/m.room.member/{alice.UserId}")).Body;
        member.Select(kv => kv.Key).Should().Equal(["membership"]);
        member["membership"]!.GetValue<string>().Should().Be("leave");
        var reader = fixture.Cluster.ApiHosts[0].Services.GetRequiredService<RoomReader>();
        (await reader.GetMembershipAsync(invitedTo, alice.UserId)).Should().Be("leave", "a deactivated user's pending invite is declined");
        var accountData = fixture.Cluster.ApiHosts[0].Services.GetRequiredService<AccountDataStore>();
        (await accountData.GetAsync(alice.UserId, null, "org.example.notes")).Should().BeNull();
    }

    private static async Task<List<JsonObject>> MessagesAsync(MatrixClient client, string room)
    {
        var (status, body) = await client.GetAsync($"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=50");
        status.Should().Be(200, body.ToJsonString());
        return body["chunk"]!.AsArray().Select(e => e!.AsObject()).ToList();
    }
}
