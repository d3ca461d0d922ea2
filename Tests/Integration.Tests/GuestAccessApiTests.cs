using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Guest access (client-server API, module "Guest Access", and registration.yaml): registering a
/// guest with <c>kind=guest</c>, the endpoints a guest may and may not call, joining only rooms whose
/// <c>m.room.guest_access</c> is <c>can_join</c> (and leaving when that changes), <c>is_guest</c> in
/// whoami, upgrading a guest in place, and peeking into world-readable rooms.
/// </summary>
public sealed class GuestAccessApiTests(GuestAccessClusterFixture fixture) : IClassFixture<GuestAccessClusterFixture>
{
    private Uri BaseAddress => fixture.Cluster.ApiHosts[0].BaseAddress;

    [Fact]
    public async Task A_guest_registers_without_auth_and_the_server_picks_its_user_id_and_device()
    {
        using var guest = new MatrixClient(BaseAddress);
        // registration.yaml: for a guest every field but initial_device_display_name is ignored.
        var registered = await guest.RegisterGuestAsync(new JsonObject
        {
            ["username"] = MatrixClient.NewUserName(),
            ["password"] = "pw",
            ["device_id"] = "CHOSENDEVICE",
            ["inhibit_login"] = true,
            ["initial_device_display_name"] = "Guest phone",
        });
        guest.UserId.Should().MatchRegex("^@[0-9]+:test\\.local$", "guests get numeric localparts, as in Synapse");
        guest.DeviceId.Should().NotBeNullOrEmpty().And.NotBe("CHOSENDEVICE");
        guest.AccessToken.Should().NotBeNullOrEmpty("inhibit_login is ignored for guests");
        registered["home_server"]!.GetValue<string>().Should().Be("test.local");

        var (whoStatus, who) = await guest.GetAsync("/_matrix/client/v3/account/whoami");
        whoStatus.Should().Be(200, who.ToJsonString());
        who["user_id"]!.GetValue<string>().Should().Be(guest.UserId);
        who["device_id"]!.GetValue<string>().Should().Be(guest.DeviceId);
        who["is_guest"]!.GetValue<bool>().Should().BeTrue();
        var (deviceStatus, device) = await guest.GetAsync($"/_matrix/client/v3/devices/{guest.DeviceId}");
        deviceStatus.Should().Be(200, device.ToJsonString());
        device["display_name"]!.GetValue<string>().Should().Be("Guest phone");

        using var second = new MatrixClient(BaseAddress);
        await second.RegisterGuestAsync();
        second.UserId.Should().NotBe(guest.UserId);

        using var user = await NewUserAsync();
        (await user.GetAsync("/_matrix/client/v3/account/whoami")).Body["is_guest"]!.GetValue<bool>().Should().BeFalse();
    }

    /// <summary>The module's lists (and the few reads Synapse adds: capabilities, joined_rooms, publicRooms), each answered as for anyone.</summary>
    public static TheoryData<string, string, string?> AllowedEndpoints => new()
    {
        // method, path ({room}, {user}, {device} and {txn} are filled in), body
        { "GET", "/_matrix/client/v3/sync?timeout=0", null },
        { "GET", "/_matrix/client/v3/events?timeout=0", null },
        { "GET", "/_matrix/client/v3/account/whoami", null },
        { "GET", "/_matrix/client/v3/devices", null },
        { "GET", "/_matrix/client/v3/devices/{device}", null },
        { "PUT", "/_matrix/client/v3/devices/{device}", """{"display_name": "renamed"}""" },
        { "PUT", "/_matrix/client/v3/profile/{user}/displayname", """{"displayname": "Guesty"}""" },
        { "POST", "/_matrix/client/v3/keys/upload", "{}" },
        { "POST", "/_matrix/client/v3/keys/query", """{"device_keys": {"{user}": []}}""" },
        { "POST", "/_matrix/client/v3/keys/claim", """{"one_time_keys": {}}""" },
        { "PUT", "/_matrix/client/v3/sendToDevice/m.test/{txn}", """{"messages": {}}""" },
        { "GET", "/_matrix/client/v3/capabilities", null },
        { "GET", "/_matrix/client/v3/joined_rooms", null },
        { "POST", "/_matrix/client/v3/publicRooms", "{}" },
        { "GET", "/_matrix/client/v3/rooms/{room}/state", null },
        { "GET", "/_matrix/client/v3/rooms/{room}/state/m.room.create", null },
        { "GET", "/_matrix/client/v3/rooms/{room}/members", null },
        { "GET", "/_matrix/client/v3/rooms/{room}/messages?dir=b", null },
        { "GET", "/_matrix/client/v3/rooms/{room}/initialSync", null },
        { "PUT", "/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}", """{"msgtype": "m.text", "body": "hello"}""" },
        { "PUT", "/_matrix/client/v3/rooms/{room}/send/org.example.custom/{txn}", """{"any": "type since v1.2"}""" },
        { "POST", "/_matrix/client/v3/rooms/{room}/leave", "{}" },
    };

    [Theory]
    [MemberData(nameof(AllowedEndpoints))]
    public async Task A_guest_may_call_the_endpoints_the_module_lists(string method, string path, string? body)
    {
        var (host, guest, roomId) = await GuestInRoomAsync();
        using (host)
        using (guest)
        {
            var (status, response) = await guest.SendAsync(new HttpMethod(method), Expand(path, guest, roomId, escape: true), Expand(body, guest, roomId));
            status.Should().Be(200, $"{method} {path}: {response.ToJsonString()}");
        }
    }

    /// <summary>Everything not listed, including endpoints a guest could otherwise use on its own account or room.</summary>
    public static TheoryData<string, string, string?> ForbiddenEndpoints => new()
    {
        { "POST", "/_matrix/client/v3/createRoom", "{}" },
        { "POST", "/_matrix/client/v3/rooms/{room}/invite", """{"user_id": "@nobody:test.local"}""" },
        { "POST", "/_matrix/client/v3/rooms/{room}/kick", """{"user_id": "@nobody:test.local"}""" },
        { "POST", "/_matrix/client/v3/rooms/{room}/forget", "{}" },
        { "POST", "/_matrix/client/v3/rooms/{room}/upgrade", """{"new_version": "10"}""" },
        { "PUT", "/_matrix/client/v3/rooms/{room}/typing/{user}", """{"typing": true, "timeout": 1000}""" },
        { "POST", "/_matrix/client/v3/rooms/{room}/read_markers", "{}" },
        { "GET", "/_matrix/client/v3/rooms/{room}/joined_members", null },
        { "PUT", "/_matrix/client/v3/directory/room/%23guest{txn}:test.local", """{"room_id": "{room}"}""" },
        { "PUT", "/_matrix/client/v3/directory/list/room/{room}", """{"visibility": "public"}""" },
        { "PUT", "/_matrix/client/v3/user/{user}/account_data/org.example.data", "{}" },
        { "POST", "/_matrix/client/v3/user/{user}/filter", "{}" },
        { "PUT", "/_matrix/client/v3/profile/{user}/avatar_url", """{"avatar_url": "mxc://test.local/x"}""" },
        { "PUT", "/_matrix/client/v3/presence/{user}/status", """{"presence": "online"}""" },
        { "GET", "/_matrix/client/v3/pushrules/", null },
        { "POST", "/_matrix/client/v3/pushers/set", "{}" },
        { "GET", "/_matrix/client/v3/notifications", null },
        { "POST", "/_matrix/client/v3/user_directory/search", """{"search_term": "a"}""" },
        { "POST", "/_matrix/client/v3/keys/device_signing/upload", "{}" },
        { "GET", "/_matrix/client/v3/room_keys/version", null },
        { "POST", "/_matrix/client/v3/account/password", """{"new_password": "x"}""" },
        { "POST", "/_matrix/client/v3/account/deactivate", "{}" },
        { "POST", "/_matrix/client/v3/delete_devices", """{"devices": []}""" },
        { "POST", "/_matrix/client/v3/user/{user}/openid/request_token", "{}" },
        { "GET", "/_matrix/client/v3/initialSync", null },
    };

    [Theory]
    [MemberData(nameof(ForbiddenEndpoints))]
    public async Task Every_other_endpoint_answers_a_guest_403_M_GUEST_ACCESS_FORBIDDEN(string method, string path, string? body)
    {
        var (host, guest, roomId) = await GuestInRoomAsync();
        using (host)
        using (guest)
        {
            var (status, response) = await guest.SendAsync(new HttpMethod(method), Expand(path, guest, roomId, escape: true), Expand(body, guest, roomId));
            (status, response["errcode"]?.GetValue<string>()).Should().Be((403, "M_GUEST_ACCESS_FORBIDDEN"), $"{method} {path}: {response.ToJsonString()}");
        }
    }

    [Fact]
    public async Task A_guest_joins_only_rooms_whose_guest_access_is_can_join()
    {
        using var host = await NewUserAsync();
        var open = await CreateRoomAsync(host, "can_join");
        var closed = await CreateRoomAsync(host, "forbidden");
        var unset = await host.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat" });
        using var guest = new MatrixClient(BaseAddress);
        await guest.RegisterGuestAsync();

        var (joined, joinedBody) = await guest.PostAsync($"/_matrix/client/v3/rooms/{open}/join", new JsonObject());
        joined.Should().Be(200, joinedBody.ToJsonString());
        await guest.SendTextAsync(open, "a guest speaks");
        foreach (var room in new[] { closed, unset })
        {
            var (status, body) = await guest.PostAsync($"/_matrix/client/v3/rooms/{room}/join", new JsonObject());
            (status, body["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), body.ToJsonString());
            var (viaAlias, viaAliasBody) = await guest.PostAsync($"/_matrix/client/v3/join/{room}", new JsonObject());
            (viaAlias, viaAliasBody["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), viaAliasBody.ToJsonString());
            // Guests may send state events, but a member event of their own is still a join the room must allow.
            var (direct, directBody) = await guest.PutAsync(
                $"/_matrix/client/v3/rooms/{room}/state/m.room.member/{Uri.EscapeDataString(guest.UserId)}", new JsonObject { ["membership"] = "join" });
            (direct, directBody["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), directBody.ToJsonString());
            (await host.GetAsync($"/_matrix/client/v3/rooms/{room}/state/m.room.member/{Uri.EscapeDataString(guest.UserId)}")).Status
                .Should().Be(404, "the guest never became a member");
        }

        using var user = await NewUserAsync();
        await user.JoinAsync(closed);
    }

    [Fact]
    public async Task Local_guests_leave_when_the_room_stops_letting_guests_join()
    {
        using var host = await NewUserAsync();
        var roomId = await CreateRoomAsync(host, "can_join");
        using var guest = new MatrixClient(BaseAddress);
        await guest.RegisterGuestAsync();
        await guest.JoinAsync(roomId);
        using var invitedGuest = new MatrixClient(BaseAddress);
        await invitedGuest.RegisterGuestAsync();
        await host.InviteAsync(roomId, invitedGuest.UserId);
        using var user = await NewUserAsync();
        await user.JoinAsync(roomId);

        await host.SetStateAsync(roomId, "m.room.guest_access", new JsonObject { ["guest_access"] = "forbidden" });

        var (status, members) = await host.GetAsync($"/_matrix/client/v3/rooms/{roomId}/members");
        status.Should().Be(200, members.ToJsonString());
        var byUser = members["chunk"]!.AsArray().ToDictionary(e => e!["state_key"]!.GetValue<string>(), e => e!);
        foreach (var left in new[] { guest.UserId, invitedGuest.UserId })
        {
            byUser[left]["content"]!["membership"]!.GetValue<string>().Should().Be("leave", "the spec: the server MUST set those users' membership to leave");
            byUser[left]["sender"]!.GetValue<string>().Should().Be(left, "each guest leaves on its own account, as in Synapse");
        }
        byUser[user.UserId]["content"]!["membership"]!.GetValue<string>().Should().Be("join");
        byUser[host.UserId]["content"]!["membership"]!.GetValue<string>().Should().Be("join");

        var (rejoin, rejoinBody) = await guest.PostAsync($"/_matrix/client/v3/rooms/{roomId}/join", new JsonObject());
        (rejoin, rejoinBody["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"));
        await host.SetStateAsync(roomId, "m.room.guest_access", new JsonObject { ["guest_access"] = "can_join" });
        await guest.JoinAsync(roomId);
    }

    [Fact]
    public async Task Registering_with_the_guest_access_token_upgrades_the_guest_and_keeps_its_user_id()
    {
        using var host = await NewUserAsync();
        var roomId = await CreateRoomAsync(host, "can_join");
        using var guest = new MatrixClient(BaseAddress);
        await guest.RegisterGuestAsync();
        await guest.JoinAsync(roomId);
        var localpart = guest.UserId[1..guest.UserId.IndexOf(':')];
        using var client = new MatrixClient(BaseAddress);

        // A guest's numeric ID is not for the taking without that guest's token, nor with another guest's.
        var (taken, takenBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = localpart, ["password"] = "pw" });
        (taken, takenBody["errcode"]?.GetValue<string>()).Should().Be((400, "M_INVALID_USERNAME"), takenBody.ToJsonString());
        using var otherGuest = new MatrixClient(BaseAddress);
        await otherGuest.RegisterGuestAsync();
        var (wrong, wrongBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = localpart, ["password"] = "pw", ["guest_access_token"] = otherGuest.AccessToken,
        });
        (wrong, wrongBody["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), wrongBody.ToJsonString());

        // The ordinary flow, user-interactive auth included, with guest_access_token and the guest's localpart.
        var (challengeStatus, challenge) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = localpart, ["password"] = "upgraded-pw", ["guest_access_token"] = guest.AccessToken,
        });
        challengeStatus.Should().Be(401, challenge.ToJsonString());
        var (done, registered) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = localpart,
            ["password"] = "upgraded-pw",
            ["guest_access_token"] = guest.AccessToken,
            ["initial_device_display_name"] = "Upgraded laptop",
            ["auth"] = new JsonObject { ["type"] = "m.login.dummy", ["session"] = challenge["session"]!.GetValue<string>() },
        });
        done.Should().Be(200, registered.ToJsonString());
        registered["user_id"]!.GetValue<string>().Should().Be(guest.UserId);
        registered["device_id"]!.GetValue<string>().Should().NotBe(guest.DeviceId);

        using var upgraded = new MatrixClient(BaseAddress) { AccessToken = registered["access_token"]!.GetValue<string>() };
        var (whoStatus, who) = await upgraded.GetAsync("/_matrix/client/v3/account/whoami");
        whoStatus.Should().Be(200, who.ToJsonString());
        (who["user_id"]!.GetValue<string>(), who["is_guest"]!.GetValue<bool>()).Should().Be((guest.UserId, false));
        // The guest's own session now belongs to a full account too: no API host keeps treating it as a guest's.
        (await guest.GetAsync("/_matrix/client/v3/account/whoami")).Body["is_guest"]!.GetValue<bool>().Should().BeFalse();
        var (created, createdBody) = await guest.PostAsync("/_matrix/client/v3/createRoom", new JsonObject());
        created.Should().Be(200, createdBody.ToJsonString());
        (await upgraded.GetAsync("/_matrix/client/v3/joined_rooms")).Body["joined_rooms"]!.AsArray()
            .Select(r => r!.GetValue<string>()).Should().Contain(roomId, "the account keeps the rooms it joined as a guest");
        using var login = new MatrixClient(BaseAddress);
        await login.LoginAsync(guest.UserId, "upgraded-pw");

        var (again, againBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject
        {
            ["username"] = localpart, ["password"] = "pw", ["guest_access_token"] = guest.AccessToken,
        });
        (again, againBody["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), "the account is no guest any more");
    }

    [Fact]
    public async Task A_guest_peeks_into_world_readable_rooms_and_the_directory_says_where_guests_can_join()
    {
        using var host = await NewUserAsync();
        var term = $"guests{Guid.NewGuid():N}"[..20];
        var readable = await CreateRoomAsync(host, "can_join", "world_readable", $"{term} readable");
        var closed = await CreateRoomAsync(host, "forbidden", "shared", $"{term} closed");
        await host.SendTextAsync(readable, "visible to peekers");
        using var guest = new MatrixClient(BaseAddress);
        await guest.RegisterGuestAsync();

        var (status, messages) = await guest.GetAsync($"/_matrix/client/v3/rooms/{readable}/messages?dir=b");
        status.Should().Be(200, messages.ToJsonString());
        messages["chunk"]!.AsArray().Select(e => e!["content"]?["body"]?.GetValue<string>()).Should().Contain("visible to peekers");
        (await guest.GetAsync($"/_matrix/client/v3/rooms/{readable}/state")).Status.Should().Be(200);
        (await guest.GetAsync($"/_matrix/client/v3/events?room_id={readable}&timeout=0")).Status.Should().Be(200);
        var (closedStatus, closedBody) = await guest.GetAsync($"/_matrix/client/v3/rooms/{closed}/messages?dir=b");
        (closedStatus, closedBody["errcode"]?.GetValue<string>()).Should().Be((403, "M_FORBIDDEN"), "a guest reads no more than any non-member");

        var (listed, directory) = await guest.PostAsync("/_matrix/client/v3/publicRooms", new JsonObject
        {
            ["filter"] = new JsonObject { ["generic_search_term"] = term },
        });
        listed.Should().Be(200, directory.ToJsonString());
        var rooms = directory["chunk"]!.AsArray().ToDictionary(r => r!["room_id"]!.GetValue<string>(), r => r!);
        (rooms[readable]["guest_can_join"]!.GetValue<bool>(), rooms[readable]["world_readable"]!.GetValue<bool>()).Should().Be((true, true));
        (rooms[closed]["guest_can_join"]!.GetValue<bool>(), rooms[closed]["world_readable"]!.GetValue<bool>()).Should().Be((false, false));
    }

    private Task<MatrixClient> NewUserAsync() => MatrixClient.RegisteredAsync(BaseAddress);

    /// <summary>A published public room with the given guest access and history visibility.</summary>
    private static Task<string> CreateRoomAsync(MatrixClient owner, string guestAccess, string historyVisibility = "shared", string? name = null) =>
        owner.CreateRoomAsync(new JsonObject
        {
            ["preset"] = "public_chat",
            ["visibility"] = "public",
            ["name"] = name ?? "guest room",
            ["initial_state"] = new JsonArray(
                new JsonObject { ["type"] = "m.room.guest_access", ["state_key"] = "", ["content"] = new JsonObject { ["guest_access"] = guestAccess } },
                new JsonObject { ["type"] = "m.room.history_visibility", ["state_key"] = "", ["content"] = new JsonObject { ["history_visibility"] = historyVisibility } }),
        });

    private async Task<(MatrixClient Host, MatrixClient Guest, string RoomId)> GuestInRoomAsync()
    {
        var host = await NewUserAsync();
        var roomId = await CreateRoomAsync(host, "can_join");
        var guest = new MatrixClient(BaseAddress);
        await guest.RegisterGuestAsync();
        await guest.JoinAsync(roomId);
        return (host, guest, roomId);
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(template))]
    private static string? Expand(string? template, MatrixClient guest, string roomId, bool escape = false) => template?
        .Replace("{room}", roomId)
        .Replace("{user}", escape ? Uri.EscapeDataString(guest.UserId) : guest.UserId)
        .Replace("{device}", guest.DeviceId)
        .Replace("{txn}", Guid.NewGuid().ToString("N"));
}

/// <summary>A server left at Synapse's default, <c>allow_guest_access: false</c>.</summary>
public sealed class GuestAccessDisabledApiTests(GuestAccessDisabledClusterFixture fixture) : IClassFixture<GuestAccessDisabledClusterFixture>
{
    [Fact]
    public async Task Guest_registration_is_forbidden_and_numeric_user_ids_stay_reserved_for_guests()
    {
        using var client = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        var (status, body) = await client.PostAsync("/_matrix/client/v3/register?kind=guest", new JsonObject());
        (status, body["errcode"]?.GetValue<string>()).Should().Be((403, "M_GUEST_ACCESS_FORBIDDEN"), body.ToJsonString());

        // Whether guests are on may change later; a user must never hold the number a future guest gets.
        var (available, availableBody) = await client.GetAsync("/_matrix/client/v3/register/available?username=12345");
        (available, availableBody["errcode"]?.GetValue<string>()).Should().Be((400, "M_INVALID_USERNAME"), availableBody.ToJsonString());
        var (registered, registeredBody) = await client.PostAsync("/_matrix/client/v3/register", new JsonObject { ["username"] = "12345", ["password"] = "pw" });
        (registered, registeredBody["errcode"]?.GetValue<string>()).Should().Be((400, "M_INVALID_USERNAME"), registeredBody.ToJsonString());
        await client.RegisterAsync("user12345" + Guid.NewGuid().ToString("N")[..6], "pw");
    }
}
