using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Homeserver.Tests.Integration;

/// <summary>
/// HTTP pushers against a push gateway that runs in the test: /pushers/set and /pushers, a
/// notification per notifying event after gateway failures (retried with backoff, nothing lost or
/// repeated), and a pusher the gateway rejects is removed.
/// </summary>
public sealed class PusherTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{

    [Fact]
    public async Task A_failing_gateway_gets_every_notification_once_after_retries_and_a_rejected_pushkey_loses_its_pusher()
    {
        await using var gateway = await FakeGateway.StartAsync(failFirst: 2);
        using var alice = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        using var bob = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);

        JsonObject Pusher(string pushkey, string url) => new()
        {
            ["kind"] = "http", ["app_id"] = "org.example.app", ["pushkey"] = pushkey, ["app_display_name"] = "Example",
            ["device_display_name"] = "phone", ["lang"] = "en", ["data"] = new JsonObject { ["url"] = url },
        };
        (await bob.PostAsync("/_matrix/client/v3/pushers/set", Pusher("key-1", gateway.Url))).Status.Should().Be(200);
        (await bob.GetAsync("/_matrix/client/v3/pushers")).Body["pushers"]!.AsArray().Single()!["pushkey"]!.GetValue<string>().Should().Be("key-1");
        (await bob.PostAsync("/_matrix/client/v3/pushers/set", Pusher("key-2", "http://127.0.0.1/elsewhere"))).Status.Should().Be(400);

        var first = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "one" });
        var second = await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "two" });
        await Eventually.WaitUntilAsync(() => gateway.Delivered.Count >= 2, "both notifications to reach the gateway");
        gateway.Failed.Should().Be(2, "the gateway failed twice before it took the first notification");
        gateway.Delivered.Select(n => n["event_id"]!.GetValue<string>()).Should().Equal(first, second);
        var notification = gateway.Delivered[0];
        notification["room_id"]!.GetValue<string>().Should().Be(room);
        notification["content"]!["body"]!.GetValue<string>().Should().Be("one");
        notification["devices"]![0]!["pushkey"]!.GetValue<string>().Should().Be("key-1");

        // The gateway now rejects the pushkey: the pusher goes.
        gateway.RejectAll = true;
        await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "three" });
        await Eventually.WaitUntilAsync(async () => (await bob.GetAsync("/_matrix/client/v3/pushers")).Body["pushers"]!.AsArray().Count == 0,
            "the rejected pusher to be removed");

        (await bob.PostAsync("/_matrix/client/v3/pushers/set", Pusher("key-3", gateway.Url))).Status.Should().Be(200);
        (await bob.PostAsync("/_matrix/client/v3/pushers/set", new JsonObject { ["kind"] = null, ["app_id"] = "org.example.app", ["pushkey"] = "key-3" }))
            .Status.Should().Be(200);
        (await bob.GetAsync("/_matrix/client/v3/pushers")).Body["pushers"]!.AsArray().Should().BeEmpty();
    }



    [Fact]
    public async Task A_pusher_goes_with_its_device_on_logout_and_on_a_password_change_that_signs_out_other_sessions()
    {
        var name = MatrixClient.NewUserName();
        using var phone = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await phone.RegisterAsync(name, "pw");
        using var tablet = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await tablet.LoginAsync(name, "pw");
        using var laptop = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await laptop.LoginAsync(name, "pw");
        JsonObject Pusher(string pushkey) => new()
        {
            ["kind"] = "http", ["app_id"] = "org.example.app", ["pushkey"] = pushkey, ["app_display_name"] = "Example",
            ["device_display_name"] = pushkey, ["lang"] = "en", ["data"] = new JsonObject { ["url"] = "http://127.0.0.1:9/_matrix/push/v1/notify" },
        };
        foreach (var (client, key) in new[] { (phone, "phone"), (tablet, "tablet"), (laptop, "laptop") })
        {
            (await client.PostAsync("/_matrix/client/v3/pushers/set", Pusher(key))).Status.Should().Be(200);
        }
        async Task<List<string>> KeysAsync() => (await laptop.GetAsync("/_matrix/client/v3/pushers")).Body["pushers"]!.AsArray()
            .Select(p => p!["pushkey"]!.GetValue<string>()).Order().ToList();

        (await tablet.PostAsync("/_matrix/client/v3/logout", new JsonObject())).Status.Should().Be(200);
        (await KeysAsync()).Should().Equal("laptop", "phone");

        var session = (await laptop.PostAsync("/_matrix/client/v3/account/password", new JsonObject { ["new_password"] = "pw2" })).Body["session"]!.GetValue<string>();
        (await laptop.PostAsync("/_matrix/client/v3/account/password", new JsonObject
        {
            ["new_password"] = "pw2",
            ["auth"] = new JsonObject
            {
                ["type"] = "m.login.password", ["session"] = session, ["password"] = "pw",
                ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = name },
            },
        })).Status.Should().Be(200);
        (await KeysAsync()).Should().Equal(["laptop"], "the phone was signed out, so its pusher went; the laptop stayed");
    }

    [Fact]
    public async Task The_rules_of_one_kind_list_at_their_path_and_notifications_carry_profile_tag()
    {
        using var alice = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        using var bob = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await bob.RegisterAsync(MatrixClient.NewUserName(), "pw");
        foreach (var path in new[] { "/_matrix/client/v3/pushrules/global/override/", "/_matrix/client/v3/pushrules/global/override" })
        {
            var (status, body) = await bob.GetAsync(path);
            status.Should().Be(200);
            JsonNode.Parse(body["_raw"]!.GetValue<string>())!.AsArray().Select(r => r!["rule_id"]!.GetValue<string>()).Should().Contain(".m.rule.master");
        }

        var room = await alice.CreateRoomAsync(new JsonObject { ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);
        await alice.SendMessageAsync(room, new JsonObject { ["msgtype"] = "m.text", ["body"] = "hello bob" });
        await Eventually.WaitUntilAsync(async () => (await bob.GetAsync("/_matrix/client/v3/notifications")).Body["notifications"]!.AsArray().Count > 0,
            "the message to be a notification");
        var notification = (await bob.GetAsync("/_matrix/client/v3/notifications")).Body["notifications"]![0]!.AsObject();
        notification.ContainsKey("profile_tag").Should().BeTrue();
        notification["event"]!["content"]!["body"]!.GetValue<string>().Should().Be("hello bob");
    }

    /// <summary>A push gateway that refuses any Content-Type but application/json: answers 500 to its first N requests, then records notifications (or rejects every pushkey).</summary>
    private sealed class FakeGateway : IAsyncDisposable
    {
        private WebApplication _app = null!;
        private int _failuresLeft;
        private int _failed;

        public string Url { get; private set; } = "";
        public List<JsonObject> Delivered { get; } = [];
        public int Failed => Volatile.Read(ref _failed);
        public bool RejectAll { get; set; }

        public static async Task<FakeGateway> StartAsync(int failFirst)
        {
            var gateway = new FakeGateway { _failuresLeft = failFirst };
            var port = LoopbackPorts.Free();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            gateway._app = builder.Build();
            gateway._app.MapPost("/_matrix/push/v1/notify", async (HttpContext http) =>
            {
                // Strict, as some gateways are: the push gateway API's media type and nothing else.
                if (http.Request.ContentType != "application/json") return Results.StatusCode(415);
                var body = (JsonNode.Parse(await new StreamReader(http.Request.Body).ReadToEndAsync()) as JsonObject)!;
                if (Interlocked.Decrement(ref gateway._failuresLeft) >= 0)
                {
                    Interlocked.Increment(ref gateway._failed);
                    return Results.StatusCode(500);
                }
                var notification = body["notification"]!.AsObject();
                if (gateway.RejectAll)
                {
                    return Results.Json(new JsonObject { ["rejected"] = new JsonArray(notification["devices"]![0]!["pushkey"]!.GetValue<string>()) });
                }
                lock (gateway.Delivered) gateway.Delivered.Add(notification);
                return Results.Json(new JsonObject { ["rejected"] = new JsonArray() });
            });
            await gateway._app.StartAsync();
            gateway.Url = $"http://127.0.0.1:{port}/_matrix/push/v1/notify";
            return gateway;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
