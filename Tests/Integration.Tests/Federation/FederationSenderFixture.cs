using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Tests.Integration.Cluster;
using Npgsql;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>The federation cluster with a backoff of seconds instead of Synapse's ten minutes.</summary>
public class FederationSenderFixture : FederationClusterFixture
{
    public static readonly TimeSpan MinRetry = TimeSpan.FromSeconds(4);

    protected override void Configure(HomeserverTestClusterOptions options) =>
        options.FederationSender = new FederationSenderOptions { MinRetryInterval = MinRetry, MaxRetryInterval = TimeSpan.FromMinutes(1) };

    public IFederationSenderGrain Sender(string destination) => Cluster.GrainFactory.GetGrain<IFederationSenderGrain>(destination);

    /// <summary>A local room with <paramref name="messages"/> messages, and every event of it as stored.</summary>
    public async Task<(string RoomId, IReadOnlyList<OutboundPdu> Events)> RoomWithMessagesAsync(int messages)
    {
        using var alice = new MatrixClient(BaseAddress);
        await alice.RegisterAsync(MatrixClient.NewUserName(), "pw");
        var roomId = await alice.CreateRoomAsync(new JsonObject());
        for (var i = 0; i < messages; i++) await alice.SendMessageAsync(roomId, new JsonObject { ["msgtype"] = "m.text", ["body"] = $"message {i}" });
        return (roomId, await EventsAsync(roomId));
    }

    public async Task<IReadOnlyList<OutboundPdu>> EventsAsync(string roomId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT room_id, event_id, stream_ordering FROM events WHERE room_id = $1 ORDER BY stream_ordering", connection);
        command.Parameters.Add(new() { Value = roomId });
        var events = new List<OutboundPdu>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) events.Add(new OutboundPdu(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return events;
    }

    public async Task<string> StoredJsonAsync(string eventId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT json FROM events WHERE event_id = $1", connection);
        command.Parameters.Add(new() { Value = eventId });
        return (string)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The destinations row: retry_interval, failure_ts, last_successful_stream_ordering; null when there is none.</summary>
    public async Task<(long RetryInterval, long? FailureTs, long? LastSuccessful)?> DestinationRowAsync(string destination)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT retry_interval, failure_ts, last_successful_stream_ordering FROM destinations WHERE destination = $1", connection);
        command.Parameters.Add(new() { Value = destination });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2));
    }

    public async Task ExecuteAsync(string sql, params object[] values)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await command.ExecuteNonQueryAsync();
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(Cluster.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}

/// <summary>The same with two silos, so the API host keeps a gateway while the federation sender's silo restarts.</summary>
public sealed class FederationSenderRestartFixture : FederationSenderFixture
{
    protected override void Configure(HomeserverTestClusterOptions options)
    {
        base.Configure(options);
        options.InitialSilosCount = 2;
        // Long enough to outlast the restart, so the new activation is seen still waiting.
        options.FederationSender = options.FederationSender with { MinRetryInterval = TimeSpan.FromMinutes(1) };
    }
}
