using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Tests.Integration.Cluster;

namespace Homeserver.Tests.Integration;

/// <summary>One silo and one API host with the <c>user_directory</c> section a subclass gives.</summary>
public abstract class UserDirectoryClusterFixture(UserDirectoryOptions options) : IAsyncLifetime
{
    public HomeserverTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = new HomeserverTestCluster(new HomeserverTestClusterOptions { InitialSilosCount = 1, UserDirectory = options });
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class SearchAllUsersClusterFixture() : UserDirectoryClusterFixture(new UserDirectoryOptions { SearchAllUsers = true, PreferLocalUsers = true });

public sealed class DisabledUserDirectoryClusterFixture() : UserDirectoryClusterFixture(new UserDirectoryOptions { Enabled = false });

/// <summary>Synapse's <c>user_directory.search_all_users</c>: every user of the server is found, strangers too.</summary>
public sealed class SearchAllUsersTests(SearchAllUsersClusterFixture fixture) : IClassFixture<SearchAllUsersClusterFixture>
{
    [Fact]
    public async Task A_user_who_shares_no_room_and_is_in_no_public_room_is_found_but_a_deactivated_one_is_not()
    {
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var alice = new MatrixClient(address);
        using var stranger = new MatrixClient(address);
        using var gone = new MatrixClient(address);
        var tag = Guid.NewGuid().ToString("N")[..8];
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        await stranger.RegisterAsync($"stranger{tag}", "pw");
        await gone.RegisterAsync($"gone{tag}", "pw");
        (await gone.PostAsync("/_matrix/client/v3/account/deactivate", new JsonObject { ["auth"] = MatrixClient.PasswordAuth(gone.UserId, "pw", null) }))
            .Status.Should().Be(200);

        var (status, body) = await alice.PostAsync("/_matrix/client/v3/user_directory/search", new JsonObject { ["search_term"] = tag });

        status.Should().Be(200);
        body["results"]!.AsArray().Select(r => r!["user_id"]!.GetValue<string>()).Should().Equal(stranger.UserId);
        body["limited"]!.GetValue<bool>().Should().BeFalse();
    }
}

/// <summary>Synapse's <c>user_directory.enabled: false</c>: searches answer 200 with no results.</summary>
public sealed class DisabledUserDirectoryTests(DisabledUserDirectoryClusterFixture fixture) : IClassFixture<DisabledUserDirectoryClusterFixture>
{
    [Fact]
    public async Task A_search_finds_nobody_not_even_a_room_peer()
    {
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var alice = await MatrixClient.RegisteredAsync(address);
        using var bob = await MatrixClient.RegisteredAsync(address);
        var room = await alice.CreateRoomAsync(new JsonObject { ["preset"] = "public_chat", ["invite"] = new JsonArray(bob.UserId) });
        await bob.JoinAsync(room);

        var (status, body) = await alice.PostAsync("/_matrix/client/v3/user_directory/search", new JsonObject { ["search_term"] = bob.UserId[1..] });

        status.Should().Be(200);
        body.ToJsonString().Should().Be("""{"results":[],"limited":false}""");
        (await alice.PostAsync("/_matrix/client/v3/user_directory/search", new JsonObject())).Status.Should().Be(400, "the body is still checked");
    }
}
