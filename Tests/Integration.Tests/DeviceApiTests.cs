using System.Text.Json.Nodes;
using Homeserver.Storage.Rooms;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.Tests.Integration;

public sealed class DeviceApiTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>
{
    private MatrixClient NewClient() => new(fixture.Cluster.ApiHosts[0].BaseAddress);


    [Fact]
    public async Task Devices_are_listed_renamed_and_deleted_behind_the_password_stage()
    {
        using var phone = NewClient();
        var name = MatrixClient.NewUserName();
        await phone.RegisterAsync(name, "pw");
        using var laptop = NewClient();
        var login = await laptop.PostAsync("/_matrix/client/v3/login", new JsonObject
        {
            ["type"] = "m.login.password", ["identifier"] = new JsonObject { ["type"] = "m.id.user", ["user"] = name },
            ["password"] = "pw", ["initial_device_display_name"] = "laptop",
        });
        laptop.AccessToken = login.Body["access_token"]!.GetValue<string>();
        var laptopId = login.Body["device_id"]!.GetValue<string>();

        var devices = (await phone.GetAsync("/_matrix/client/v3/devices")).Body["devices"]!.AsArray();
        devices.Should().HaveCount(2);
        (await phone.SendAsync(HttpMethod.Put, $"/_matrix/client/v3/devices/{laptopId}", """{"display_name":"old laptop"}""")).Status.Should().Be(200);
        (await phone.GetAsync($"/_matrix/client/v3/devices/{laptopId}")).Body["display_name"]!.GetValue<string>().Should().Be("old laptop");
        (await phone.GetAsync("/_matrix/client/v3/devices/NOPE")).Status.Should().Be(404);

        var challenge = await phone.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/devices/{laptopId}", "{}");
        challenge.Status.Should().Be(401);
        challenge.Body["flows"]![0]!["stages"]![0]!.GetValue<string>().Should().Be("m.login.password");
        var session = challenge.Body["session"]!.GetValue<string>();

        var wrong = await phone.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/devices/{laptopId}",
            new JsonObject { ["auth"] = MatrixClient.PasswordAuth(name, "nope", session) }.ToJsonString());
        (wrong.Status, wrong.Body["errcode"]!.GetValue<string>()).Should().Be((401, "M_FORBIDDEN"));
        (await laptop.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200, "nothing was deleted");

        var ok = await phone.SendAsync(HttpMethod.Delete, $"/_matrix/client/v3/devices/{laptopId}",
            new JsonObject { ["auth"] = MatrixClient.PasswordAuth(name, "pw", session) }.ToJsonString());
        ok.Status.Should().Be(200);
        (await laptop.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401);
        (await phone.GetAsync("/_matrix/client/v3/devices")).Body["devices"]!.AsArray().Should().HaveCount(1);
    }

    [Fact]
    public async Task Changing_the_password_logs_out_other_devices_and_deactivation_ends_the_account()
    {
        using var first = NewClient();
        var name = MatrixClient.NewUserName();
        await first.RegisterAsync(name, "old-pw");
        using var second = NewClient();
        second.AccessToken = (await second.PostAsync("/_matrix/client/v3/login", new JsonObject
        {
            ["type"] = "m.login.password", ["user"] = name, ["password"] = "old-pw",
        })).Body["access_token"]!.GetValue<string>();
        var room = (await first.PostAsync("/_matrix/client/v3/createRoom", new JsonObject())).Body["room_id"]!.GetValue<string>();

        var changed = await first.PostAsync("/_matrix/client/v3/account/password", new JsonObject
        {
            ["new_password"] = "new-pw", ["auth"] = MatrixClient.PasswordAuth(name, "old-pw", null),
        });
        changed.Status.Should().Be(200);
        (await second.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401, "other devices are logged out");
        (await first.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(200, "the requesting device stays");
        using var again = NewClient();
        (await again.PostAsync("/_matrix/client/v3/login", new JsonObject { ["type"] = "m.login.password", ["user"] = name, ["password"] = "new-pw" }))
            .Status.Should().Be(200);

        var deactivated = await first.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["auth"] = MatrixClient.PasswordAuth(name, "new-pw", null) });
        deactivated.Status.Should().Be(200);
        (await first.GetAsync("/_matrix/client/v3/account/whoami")).Status.Should().Be(401);
        var relogin = await again.PostAsync("/_matrix/client/v3/login", new JsonObject { ["type"] = "m.login.password", ["user"] = name, ["password"] = "new-pw" });
        relogin.Status.Should().Be(403);
        var reader = fixture.Cluster.ApiHosts[0].Services.GetRequiredService<RoomReader>();
        var membership = await reader.GetMembershipAsync(room, $"@{name}:test.local");
        membership.Should().Be("leave", "a deactivated user leaves their rooms");
    }
}
