using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Npgsql;

namespace Homeserver.Tests.Integration;

/// <summary>Its own cluster: the test cuts every silo's database sessions.</summary>
public sealed class DatabaseFailureClusterFixture() : ClusterFixture(apiHosts: 1);

public sealed class DatabaseFailureTests(DatabaseFailureClusterFixture fixture) : IClassFixture<DatabaseFailureClusterFixture>
{
    [Fact]
    public async Task A_grain_whose_database_connection_broke_answers_a_retryable_503_not_a_codec_error()
    {
        var user = $"@{Guid.NewGuid():N}:test.local";
        var grain = fixture.Cluster.GrainFactory.GetGrain<IUserGrain>(user);
        await grain.SetAccountDataAsync(null, "org.example.warm", new JsonObject { ["n"] = 0 });

        // The silos' pooled sessions die under them, as when PostgreSQL restarts or a fence ends them. Other
        // work in the silo may find a dead session first and replace it, so cut them again until a call of ours hits one.
        var failures = new List<Exception>();
        var n = 0;
        for (var round = 0; round < 5 && failures.Count == 0; round++)
        {
            await using (var admin = new NpgsqlConnection(fixture.Cluster.ConnectionString))
            {
                await admin.OpenAsync();
                await using var terminate = new NpgsqlCommand(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'homeserver:silo%'",
                    admin);
                await terminate.ExecuteScalarAsync();
            }
            for (var i = 1; i <= 10; i++)
            {
                try
                {
                    await grain.SetAccountDataAsync(null, "org.example.after", new JsonObject { ["n"] = ++n });
                }
                catch (Exception e)
                {
                    failures.Add(e);
                }
            }
        }
        failures.Should().NotBeEmpty("the first calls use the pooled sessions that were cut");
        failures.Should().OnlyContain(e => e is MatrixException && ((MatrixException)e).StatusCode == 503,
            "a broken database connection is a retryable failure, never an unserializable exception");
        (await grain.GetAccountDataAsync(null, "org.example.after"))!["n"]!.GetValue<int>().Should().Be(n, "the retries went through");
    }
}
